"""The `cohort` command: managing people, customers and clouds without touching the database.
`cohort serve`, the embedded default, is started as a user would in tests/test_serve.py."""

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from cohort.core.authentication import TokenAuthentication
from cohort.openstack.models import Tenant
from cohort.structure.models import Customer, CustomerRole, Project, ProjectRole, ServiceSettings


def run(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip()


@pytest.mark.django_db
def test_a_whole_setup_by_commands():
    run("user", "alice")
    run("user", "root", "--staff")
    customer = run("customer", "Acme", "--abbreviation", "ACME", "--native-name", "Acme Ltd")
    project = run("project", "Acme", "web")
    run("role", "alice", "owner", "--customer", customer)
    run("role", "alice", "member", "--project", "web")
    cloud = run("cloud", "prod", "--auth-url", "https://keystone.example.com/v3", "--credential", "username=c",
                "--credential", "password=secret", "--option", "interface=public", "--region", "R1",
                "--no-check")  # fmt: skip
    tenant = run("tenant", "acme-prod", "--cloud", "prod", "--project", project, "--backend-id", "os-project-1")

    assert Customer.objects.get(uuid=customer).abbreviation == "ACME"
    assert Project.objects.get(uuid=project).customer.name == "Acme"
    assert CustomerRole.objects.filter(user__username="alice", customer__uuid=customer, role="owner").exists()
    assert ProjectRole.objects.filter(user__username="alice", project__uuid=project, role="member").exists()
    settings = ServiceSettings.objects.get(uuid=cloud)
    assert (settings.credentials, settings.region, settings.verify_tls) == (
        {"username": "c", "password": "secret"},
        "R1",
        True,
    )
    access = Tenant.objects.get(uuid=tenant).cloud_access()
    assert (access.project_id, access.auth_url) == ("os-project-1", "https://keystone.example.com/v3")
    assert "secret" not in repr(access)

    user, _ = TokenAuthentication().authenticate_key(run("token", "alice"))
    assert user.username == "alice"
    run("role", "alice", "member", "--project", "web", "--revoke")
    assert not ProjectRole.objects.filter(user__username="alice").exists()


@pytest.mark.django_db
def test_credentials_given_to_commands_are_stored_encrypted_and_reach_the_driver():
    project = run("project", run("customer", "Acme"), "web")
    run("cloud", "prod", "--auth-url", "https://k/v3", "--credential", "username=cohort",
        "--credential", "password=cloud-secret", "--credential", "user_domain_name=Default",
        "--no-check")  # fmt: skip
    tenant = run("tenant", "t", "--cloud", "prod", "--project", project, "--backend-id", "p1",
                 "--credential", "username=own-user", "--credential", "password=tenant-secret")  # fmt: skip
    stored = []
    with connection.cursor() as cursor:
        for table in ("structure_servicesettings", "openstack_tenant"):
            cursor.execute(f"SELECT CAST(credentials AS TEXT) FROM {table}")
            stored += [row[0] for row in cursor.fetchall()]
    assert len(stored) == 2 and not any("secret" in text or "own-user" in text for text in stored)

    access = Tenant.objects.get(uuid=tenant).cloud_access()
    assert dict(access.credentials) == {
        "username": "own-user",
        "password": "tenant-secret",
        "user_domain_name": "Default",
    }
    assert "secret" not in repr(access)


@pytest.mark.django_db
def test_commands_explain_bad_references():
    with pytest.raises(CommandError, match="not found"):
        run("project", "No such customer", "web")
    with pytest.raises(CommandError, match="No user"):
        run("token", "nobody")
    run("user", "bob")
    with pytest.raises(CommandError, match="customer role"):
        run("role", "bob", "owner")


def test_lab_boot_on_the_in_memory_cloud_says_why_it_cannot(world):
    ServiceSettings.objects.filter(pk=world.cloud.pk).update(auth_url="memory://demo")
    with pytest.raises(CommandError, match="in-memory cloud"):
        run("lab-boot", world.tenant.uuid.hex, "vm-1")
