"""The embedded default's starting point: an admin, and a demo customer, project, cloud and tenant.

Nobody else: the README's "Managing people" shows how to add users and roles.

Idempotent: running it again changes nothing but the demo cloud's endpoint, which follows the lab
(a fresh real Nova each start) or, without the `lab` extra, the in-memory cloud.
"""

from django.contrib.auth import get_user_model

from cohort.openstack.models import Tenant
from cohort.structure.models import Customer, Project, ServiceSettings

MEMORY_URL = "memory://demo"
DEMO_PROJECT = "demo"  # the Nova project of the demo tenant


def bootstrap(cloud_url: str) -> dict:
    User = get_user_model()
    admin, created = User.objects.get_or_create(username="admin", defaults={"is_staff": True, "is_superuser": True})
    if created:
        admin.set_unusable_password()
        admin.save()
    customer, _ = Customer.objects.get_or_create(name="Demo customer", defaults={"abbreviation": "DEMO"})
    project, _ = Project.objects.get_or_create(customer=customer, name="Demo project")
    cloud, _ = ServiceSettings.objects.update_or_create(
        name="Demo cloud",
        defaults={"auth_url": cloud_url, "auth_type": ServiceSettings.AuthType.ADMIN_TOKEN, "shared": True},
    )
    tenant, _ = Tenant.objects.update_or_create(
        service_settings=cloud,
        backend_id=DEMO_PROJECT,
        defaults={"project": project, "name": "demo-tenant", "credentials": {"token": f"demo:{DEMO_PROJECT}"}},
    )
    return {"admin": admin, "customer": customer, "project": project, "tenant": tenant}
