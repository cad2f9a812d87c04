from django.core.management.base import BaseCommand

from cohort.openstack.services import tenant_create
from cohort.structure.management.commands._lookup import find, pairs
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
        parser.add_argument("--credential", action="append", default=[], metavar="KEY=VALUE")
        parser.add_argument("--description", default="")

    def handle(self, name, cloud, project, backend_id, credential, description, **options):
        tenant = tenant_create(
            name=name,
            description=description,
            service_settings=find(ServiceSettings, cloud),
            project=find(Project, project),
            backend_id=backend_id,
            credentials=pairs(credential),
        )
        self.stdout.write(tenant.uuid.hex)
