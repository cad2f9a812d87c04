"""The Django admin: usable by staff superusers, and it never shows a cloud's credentials."""

import pytest
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
def test_admin_is_closed_to_everyone_else():
    response = Client(HTTP_HOST="localhost").get("/admin/structure/servicesettings/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
