from cohort.cloud.openstack import CREDENTIAL_KEYS
from cohort.core.commands import Command as BaseCommand
from cohort.core.commands import key_value
from cohort.openstack.services import tenant_create
from cohort.structure.management.commands._lookup import find
from cohort.structure.models import Project, ServiceSettings


class Command(BaseCommand):
    help = (
        "Register an OpenStack project as a tenant of a Cohort project; prints its uuid. "
        "--backend-id is the OpenStack project id; --credential KEY=VALUE overrides the cloud's "
        "credentials for this tenant (for example its own user)."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--cloud", required=True, help="service settings name or uuid")
        parser.add_argument("--project", required=True, help="Cohort project name or uuid")
        parser.add_argument("--backend-id", required=True)
        parser.add_argument("--credential", action="append", default=[], type=key_value, metavar="KEY=VALUE")
        parser.add_argument("--description", default="")

    def handle(self, name, cloud, project, backend_id, credential, description, **options):
        credentials = self.pairs(credential, "--credential")
        service_settings = find(ServiceSettings, cloud)
        takes = CREDENTIAL_KEYS[service_settings.auth_type] - {"project_id"}  # the tenant's project is --backend-id
        unknown = sorted(set(credentials) - takes)
        if unknown:
            self.usage_error(
                f"argument --credential: the cloud's auth type {service_settings.auth_type} takes no "
                f"{', '.join(unknown)} (it takes {', '.join(sorted(takes))})"
            )
        tenant = tenant_create(
            name=name,
            description=description,
            service_settings=service_settings,
            project=find(Project, project),
            backend_id=backend_id,
            credentials=credentials,
        )
        self.stdout.write(tenant.uuid.hex)
