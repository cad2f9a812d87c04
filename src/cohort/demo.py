"""The embedded default's starting point: an admin, and a demo customer, project, cloud and tenant.

Idempotent: running it again changes nothing. Until the local Nova lab is wired in, the demo cloud
is the in-memory driver, and `cohort serve` says so.
"""

from django.conf import settings
from django.contrib.auth import get_user_model

from cohort.openstack.models import Tenant
from cohort.structure.models import Customer, Project, ProjectRole, ServiceSettings

DEMO_AUTH_URL = "memory://demo"


def bootstrap() -> dict:
    User = get_user_model()
    admin, created = User.objects.get_or_create(
        username="admin", defaults={"is_staff": True, "is_superuser": True}
    )
    if created:
        admin.set_unusable_password()
        admin.save()
    customer, _ = Customer.objects.get_or_create(name="Demo customer", defaults={"abbreviation": "DEMO"})
    project, _ = Project.objects.get_or_create(customer=customer, name="Demo project")
    cloud, _ = ServiceSettings.objects.get_or_create(
        name="Demo cloud",
        defaults={"auth_url": DEMO_AUTH_URL, "auth_type": ServiceSettings.AuthType.ADMIN_TOKEN},
    )
    tenant, _ = Tenant.objects.get_or_create(
        service_settings=cloud, project=project, name="demo-tenant", defaults={"backend_id": "demo"}
    )
    alice, created = User.objects.get_or_create(username="alice")
    if created:
        alice.set_unusable_password()
        alice.save()
    ProjectRole.objects.get_or_create(project=project, user=alice, role=ProjectRole.Role.MANAGER)
    return {
        "admin": admin,
        "customer": customer,
        "project": project,
        "tenant": tenant,
        "alice": alice,
        "in_memory": settings.CLOUD_DRIVER.endswith("MemoryDriver"),
    }
