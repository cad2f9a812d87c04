"""Shared fixtures: a small world of two customers, people in every role, and API clients.

Tests run on the in-memory cloud driver with Celery in eager mode; a task queued on commit runs
when a test lets commits happen (`django_capture_on_commit_callbacks(execute=True)`). The tests
marked `broker` run a real worker process over a real broker instead.
"""

from types import SimpleNamespace

import pytest
from rest_framework.test import APIClient

from cohort.cloud.memory import MemoryCloud

LAB_MAX_LIMIT = 100  # the session lab's [api] max_limit

MEMORY_URL = "memory://test"


@pytest.fixture(scope="session")
def lab():
    """A real Nova (the lab) in its own process on 127.0.0.1, once per session, stopped at the end."""
    import cohort_lab

    if not cohort_lab.nova_installed():
        pytest.skip("the lab needs the `lab` extra: pip install -e '.[lab]'")
    # Nova caps a page of a listing at 100 items here (its default is 1000): the driver, which asks
    # for 1000, meets a cloud that caps lower, and a test pages past the cap with 101 groups, not 1,001.
    started = cohort_lab.start_lab(max_limit=LAB_MAX_LIMIT)
    yield started
    started.stop()


@pytest.fixture(autouse=True)
def fresh_cloud():
    MemoryCloud.reset()
    yield
    MemoryCloud.reset()


def make_user(username: str, *, staff: bool = False):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create(username=username, is_staff=staff)


def make_tenant(name: str, project, cloud, backend_id: str | None = None):
    from cohort.openstack.models import Tenant

    return Tenant.objects.create(name=name, project=project, service_settings=cloud, backend_id=backend_id or name)


def make_group(tenant, name: str, **fields):
    from cohort.core.states import State
    from cohort.openstack.models import ServerGroup

    fields.setdefault("state", State.OK)
    fields.setdefault("backend_id", f"nova-{name}" if fields["state"] == State.OK else "")
    return ServerGroup.objects.create(tenant=tenant, name=name, **fields)


@pytest.fixture
def world(db):
    """Two customers, each with a project and a tenant, and a user in every role of the first."""
    from cohort.structure.models import Customer, CustomerRole, Project, ProjectRole, ServiceSettings

    cloud = ServiceSettings.objects.create(name="test cloud", auth_url=MEMORY_URL, auth_type="admin_token")
    acme = Customer.objects.create(name="Acme", native_name="Acme Ltd", abbreviation="ACME")
    globex = Customer.objects.create(name="Globex", native_name="Globex Corp", abbreviation="GLX")
    web = Project.objects.create(customer=acme, name="web")
    other = Project.objects.create(customer=globex, name="other")
    users = SimpleNamespace(
        staff=make_user("staff", staff=True),
        owner=make_user("owner"),
        manager=make_user("manager"),
        admin=make_user("admin"),
        member=make_user("member"),
        stranger=make_user("stranger"),
    )
    CustomerRole.objects.create(customer=acme, user=users.owner, role="owner")
    for role in ("manager", "admin", "member"):
        ProjectRole.objects.create(project=web, user=getattr(users, role), role=role)
    return SimpleNamespace(
        cloud=cloud,
        acme=acme,
        globex=globex,
        web=web,
        other=other,
        tenant=make_tenant("acme-tenant", web, cloud),
        other_tenant=make_tenant("globex-tenant", other, cloud),
        users=users,
    )


@pytest.fixture
def api():
    """`api(user)`: an API client authenticated with a real token of `user` (None: anonymous)."""
    from cohort.core.authentication import issue_token

    def client_for(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(user)}")
        return client

    return client_for


@pytest.fixture
def admin_cloud(world):
    """The world's cloud registered with a cloud admin's credentials (the memory cloud's `admin:` token)."""
    from cohort.openstack.placement import hosts_cache

    world.cloud.credentials = {"token": "admin:admin"}
    world.cloud.save()
    world.tenant.refresh_from_db()
    hosts_cache.clear()
    yield world
    hosts_cache.clear()


def lab_tenant(lab, world, prefix: str):
    """The world's first project on a Keystone project of its own in `lab`, in a cloud registered with
    the lab admin's credentials (scoped to the admin's project, as an operator registers a cloud), the
    tenant with its own user's: (tenant, the tenant's access, the admin's access)."""
    import uuid

    from cohort.structure.models import ServiceSettings

    access = lab.tenant(f"{prefix}-{uuid.uuid4().hex[:10]}")
    admin = lab.admin()
    cloud = ServiceSettings.objects.create(
        name=f"lab-{access.project_id}",
        auth_url=lab.auth_url,
        region=access.region,
        credentials={**admin.credentials, "project_id": admin.project_id},
    )
    tenant = make_tenant("lab-tenant", world.web, cloud, backend_id=access.project_id)
    tenant.credentials = dict(access.credentials)
    tenant.save()
    return tenant, access, admin


def memory_project(tenant):
    return MemoryCloud.project(tenant.service_settings.auth_url, tenant.backend_id)


DATABASE_FIXTURES = {"db", "transactional_db", "django_db_setup"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test marked `database_free` (CI's PostgreSQL pass leaves it out) must not use the suite's
    database: that pass would be the only one to run it on PostgreSQL."""
    for item in items:
        if item.get_closest_marker("database_free") and (
            item.get_closest_marker("django_db") or DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))
        ):
            raise pytest.UsageError(f"{item.nodeid} is marked database_free but uses the suite's database")
