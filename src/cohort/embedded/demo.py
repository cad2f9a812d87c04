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
from cohort.openstack.models import Instance, ServerGroup, Tenant
from cohort.structure.models import Customer, Project, ServiceSettings

MEMORY_URL = "memory://demo"
DEMO_CLOUD = "Demo cloud"
DEMO_PROJECT = "demo"  # the lab's Keystone project (and user) of the demo tenant
DEMO_TENANT = "demo-tenant"
# The second demo tenant logs in with an application credential, as a careful operator's would: its
# own Keystone project and user (two tenants on one project would import each other's groups).
APP_CREDENTIAL_CLOUD = "Demo cloud (application credential)"
APP_CREDENTIAL_PROJECT = "demo-appcred"
# Named after the first, so that the first sorts first where tenants are listed (the page's create
# form preselects it, and it is the one the README uses); called "demo-appcred-tenant" before.
APP_CREDENTIAL_TENANT = "demo-tenant-appcred"
FORMER_APP_CREDENTIAL_TENANT = "demo-appcred-tenant"


def bootstrap(
    access: CloudAccess | None = None,
    lab_admin: CloudAccess | None = None,
    *,
    app_access: CloudAccess | None = None,
) -> dict:
    """The demo records; `access`: the demo tenant's login on the lab (`Lab.tenant`), None: in memory;
    `lab_admin`: the lab admin's login (`Lab.admin`), registered as the cloud's own credentials (scoped to
    its project), so that staff see host names and room in placement reports; `app_access`: the second
    demo tenant's application credential on the lab (none in memory)."""
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
        name=DEMO_CLOUD, defaults={**cloud_fields, "credentials": cloud_credentials, "shared": True}
    )
    tenant, _ = Tenant.objects.update_or_create(
        service_settings=cloud,
        name=DEMO_TENANT,
        defaults={"project": project, "backend_id": backend_id, "credentials": credentials},
    )
    records = {"admin": admin, "customer": customer, "project": project, "cloud": cloud, "tenant": tenant}
    if app_access is not None:
        app_cloud, _ = ServiceSettings.objects.update_or_create(
            name=APP_CREDENTIAL_CLOUD,
            defaults={
                "auth_url": app_access.auth_url,
                "auth_type": ServiceSettings.AuthType.APPLICATION_CREDENTIAL,
                "region": app_access.region,
                "credentials": {},
                "shared": True,
            },
        )
        renamed = Tenant.objects.filter(service_settings=app_cloud, name=FORMER_APP_CREDENTIAL_TENANT)
        renamed.update(name=APP_CREDENTIAL_TENANT)  # a home made before the rename keeps its tenant
        records["app_tenant"], _ = Tenant.objects.update_or_create(
            service_settings=app_cloud,
            name=APP_CREDENTIAL_TENANT,
            defaults={
                "project": project,
                "backend_id": app_access.project_id,
                "credentials": dict(app_access.credentials),
            },
        )
    return records


def previous_application_credential() -> str:
    """The id of the second demo tenant's application credential, "" if none (serve revokes it when it
    makes the next: a secret is shown once, so each start makes one)."""
    tenant = Tenant.objects.filter(name=APP_CREDENTIAL_TENANT, service_settings__name=APP_CREDENTIAL_CLOUD).first()
    return tenant.credentials.get("application_credential_id", "") if tenant else ""


def lab_stamp() -> str:
    """The stamp binding the lab's kept state to this database: the demo cloud's uuid ("" if none yet)."""
    cloud = ServiceSettings.objects.filter(name=DEMO_CLOUD).first()
    return cloud.uuid.hex if cloud else ""


def _lab_records():
    clouds = ServiceSettings.objects.filter(name__in=(DEMO_CLOUD, APP_CREDENTIAL_CLOUD))
    clouds = clouds.exclude(auth_url__startswith="memory://")
    return (
        ServerGroup.objects.filter(tenant__service_settings__in=clouds).exclude(backend_id=""),
        Instance.objects.filter(tenant__service_settings__in=clouds),
    )


def lab_mismatch(lab_dir, lab_stamp_found: str, lab_has_state: bool) -> str:
    """Why the lab's kept state in `lab_dir` and this database's records of it cannot both be true;
    "" when they can. `lab_stamp_found`: the stamp in the lab's state; `lab_has_state`: whether it
    has any (Keystone's or Nova's databases)."""
    ours = lab_stamp()
    groups, _ = _lab_records()
    fix = (
        "Run `cohort serve --reset-lab` to start the lab empty and forget this database's records of "
        "the lab's server groups, or set COHORT_HOME to the directory whose database the lab belongs to."
    )
    if lab_has_state:
        if ours and lab_stamp_found == ours:
            return ""
        found = f"is stamped {lab_stamp_found}" if lab_stamp_found else "carries no stamp (`cohort lab` alone made it)"
        owner = f"this database's demo cloud is {ours}" if ours else "this database has no demo cloud yet"
        return (
            f"The lab's state in {lab_dir} belongs to another Cohort database: it {found}, and {owner}. "
            f"Started together, Cohort would reconcile records against groups they never described. {fix}"
        )
    count = groups.count()
    if count:
        return (
            f"This database holds {count} server group(s) of the lab, but the lab's state in {lab_dir} is gone "
            f"(reset or deleted): their Nova ids no longer exist, and reconciliation would delete them. {fix}"
        )
    return ""


def forget_lab_records() -> tuple[int, int]:
    """Delete this database's records of the lab's server groups and servers (`serve --reset-lab`):
    they describe a lab that is started empty. The tenants stay. Returns (groups, servers) deleted."""
    groups, instances = _lab_records()
    servers = instances.delete()[0]
    return groups.delete()[0], servers
