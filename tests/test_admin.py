"""The Django admin: usable by staff superusers, and it never shows a cloud's credentials."""

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.test import Client

from cohort.openstack.models import Tenant
from cohort.structure.models import Customer, Project, ServiceSettings


@pytest.mark.django_db
def test_admin_pages_work_and_hide_credentials():
    root = get_user_model().objects.create_superuser("root", password="pw-for-test")
    cloud = ServiceSettings.objects.create(name="prod", auth_url="https://k/v3", credentials={"password": "s3cret!"})
    project = Project.objects.create(customer=Customer.objects.create(name="Acme"), name="web")
    tenant = Tenant.objects.create(name="t", project=project, service_settings=cloud, credentials={"password": "t0p!"})
    client = Client(HTTP_HOST="localhost")
    client.force_login(root)
    for path in (
        "/admin/",
        "/admin/structure/servicesettings/",
        f"/admin/structure/servicesettings/{cloud.pk}/change/",
        f"/admin/openstack/tenant/{tenant.pk}/change/",
        "/admin/openstack/servergroup/",
        "/admin/core/token/",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert b"s3cret!" not in response.content and b"t0p!" not in response.content, path


@pytest.mark.django_db
def test_admin_edits_keep_credentials_and_work_under_a_wrong_key(settings):
    """Credentials are encrypted at rest; a form that never shows them must not drop them on save, and
    the pages must stay usable when the key is wrong (only a cloud call needs the secret)."""
    root = get_user_model().objects.create_superuser("root", password="pw-for-test")
    cloud = ServiceSettings.objects.create(name="prod", auth_url="https://k/v3", credentials={"password": "s3cret!"})
    client = Client(HTTP_HOST="localhost")
    client.force_login(root)
    form = {
        "name": "prod-renamed", "type": "OpenStack", "customer": "", "auth_url": "https://k/v3",
        "auth_type": "password", "region": "R1", "verify_tls": "on", "options": "{}", "state": "OK",
        "error_message": "", "error_traceback": "",
    }  # fmt: skip
    response = client.post(f"/admin/structure/servicesettings/{cloud.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    cloud.refresh_from_db()
    assert (cloud.name, cloud.credentials) == ("prod-renamed", {"password": "s3cret!"})

    settings.CREDENTIALS_KEYS = [Fernet.generate_key().decode()]
    for path in ("/admin/structure/servicesettings/", f"/admin/structure/servicesettings/{cloud.pk}/change/"):
        assert client.get(path).status_code == 200, path


@pytest.mark.django_db
def test_admin_is_closed_to_everyone_else():
    response = Client(HTTP_HOST="localhost").get("/admin/structure/servicesettings/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_cloud_backed_records_are_view_only_in_the_admin(world):
    """A change in the admin would skip the cloud work (a policy edited without replacing the Nova
    group, a delete that leaves the Nova group behind): the services are the one write path."""
    from tests.conftest import make_group

    root = get_user_model().objects.create_superuser("root", password="pw-for-test")
    group = make_group(world.tenant, "g")
    client = Client(HTTP_HOST="localhost")
    client.force_login(root)
    page = client.get(f"/admin/openstack/servergroup/{group.pk}/change/")
    assert page.status_code == 200 and b'name="policy"' not in page.content  # shown, not editable
    assert client.get("/admin/openstack/servergroup/add/").status_code == 403
    response = client.post(f"/admin/openstack/servergroup/{group.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    response = client.post(f"/admin/openstack/servergroup/{group.pk}/change/", {"name": "x", "policy": "affinity"})
    assert response.status_code == 403
    group.refresh_from_db()
    assert group.name == "g"
    assert client.get("/admin/openstack/instance/add/").status_code == 403
