"""`cohort lab-boot TENANT NAME [--group UUID]`: boot a server in a lab tenant, as its user would.

It logs in to the lab's Keystone with the tenant's own credentials and goes through Nova's public API
(found in the catalog) with the `group` scheduler hint, exactly as `openstack server create --hint
group=...` would, so Cohort learns of the server only by reconciling (`pull`), as on a real cloud. The
image and flavor are the lab's.
"""

from django.core.management.base import BaseCommand, CommandError

from cohort.cloud import CloudError
from cohort.core.references import parse_uuid
from cohort.openstack.models import ServerGroup, Tenant


class Command(BaseCommand):
    help = "Boot a server in a tenant of the lab, optionally into a server group (by its Cohort uuid)."

    def add_arguments(self, parser):
        parser.add_argument("tenant", help="the tenant's uuid")
        parser.add_argument("name")
        parser.add_argument("--group", help="the server group's uuid in Cohort")

    def handle(self, tenant, name, group, **options):
        import cohort_lab

        record = Tenant.objects.select_related("service_settings").filter(uuid=parse_uuid(tenant)).first()
        if record is None:
            raise CommandError(f"no tenant {tenant}")
        if record.service_settings.auth_url.startswith("memory://"):
            raise CommandError(
                "this tenant is on the in-memory cloud (cohort serve --memory), which lives inside the worker: "
                "servers can be booted on the lab only (cohort serve without --memory)"
            )
        group_id = None
        if group:
            server_group = ServerGroup.objects.filter(uuid=parse_uuid(group), tenant=record).first()
            if server_group is None or not server_group.backend_id:
                raise CommandError(f"no server group {group} with a Nova id in this tenant")
            group_id = server_group.backend_id
        try:
            server = cohort_lab.boot_server(record.cloud_access(), name, group_id)
        except CloudError as error:
            raise CommandError(error.message) from None
        self.stdout.write(f"{server.id} {server.status} host_id={server.host_id or '-'}")
