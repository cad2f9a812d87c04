"""The embedded default's starting point: an admin, and a demo customer, project, cloud and tenant.

With the lab, the demo cloud is registered as a real cloud is: Keystone's /v3 URL, the Default domain
and the region, and the demo tenant is the lab's Keystone project `demo` with its own user and password,
so Cohort logs in to Keystone and finds Nova in the catalog; the demo cloud's own credentials are the
lab admin's, as an operator registers a cloud, so that staff see compute host names. Without the `lab`
extra the demo cloud is the in-memory one. Idempotent: running it again changes nothing but the demo
cloud's URL and the tenant's project id and password, which follow the lab.

Nobody else: the README's "Managing people" shows how to add users and roles.
"""

from django.contrib.auth import get_user_model

from cohort.cloud.base import CloudAccess
from cohort.openstack.models import Tenant
from cohort.structure.models import Customer, Project, ServiceSettings

MEMORY_URL = "memory://demo"
DEMO_PROJECT = "demo"  # the lab's Keystone project (and user) of the demo tenant
DEMO_TENANT = "demo-tenant"


def bootstrap(access: CloudAccess | None = None, lab_admin: CloudAccess | None = None) -> dict:
    """The demo records; `access`: the demo tenant's login on the lab (`Lab.tenant`), None: in memory;
    `lab_admin`: the lab admin's login (`Lab.admin`), registered as the cloud's own credentials (scoped to
    its project), so that staff see host names and room in placement reports."""
    User = get_user_model()
    admin, created = User.objects.get_or_create(username="admin", defaults={"is_staff": True, "is_superuser": True})
    if created:
        admin.set_unusable_password()
        admin.save()
    customer, _ = Customer.objects.get_or_create(name="Demo customer", defaults={"abbreviation": "DEMO"})
    project, _ = Project.objects.get_or_create(customer=customer, name="Demo project")
    if access is None:
        cloud_fields = {"auth_url": MEMORY_URL, "auth_type": ServiceSettings.AuthType.ADMIN_TOKEN, "region": ""}
        backend_id, credentials = DEMO_PROJECT, {"token": f"demo:{DEMO_PROJECT}"}
        cloud_credentials = {}
    else:
        cloud_fields = {"auth_url": access.auth_url, "auth_type": ServiceSettings.AuthType.PASSWORD}
        cloud_fields["region"] = access.region
        backend_id = access.project_id
        credentials = {key: access.credentials[key] for key in ("username", "password")}
        cloud_credentials = {"user_domain_name": access.credentials["user_domain_name"]}
        if lab_admin is not None:  # the tenant's own username and password take precedence in the tenant
            cloud_credentials.update(
                username=lab_admin.credentials["username"], password=lab_admin.credentials["password"],
                project_id=lab_admin.project_id,
            )  # fmt: skip
    cloud, _ = ServiceSettings.objects.update_or_create(
        name="Demo cloud", defaults={**cloud_fields, "credentials": cloud_credentials, "shared": True}
    )
    tenant, _ = Tenant.objects.update_or_create(
        service_settings=cloud,
        name=DEMO_TENANT,
        defaults={"project": project, "backend_id": backend_id, "credentials": credentials},
    )
    return {"admin": admin, "customer": customer, "project": project, "tenant": tenant}
