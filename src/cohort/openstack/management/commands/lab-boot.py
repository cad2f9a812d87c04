"""`cohort lab-boot TENANT NAME [--group UUID] [--host HOST]`: boot a server in a lab tenant, as its user would.

It logs in to the lab's Keystone with the tenant's own credentials and goes through Nova's public API
(found in the catalog) with the `group` scheduler hint, exactly as `openstack server create --hint
group=...` would, so Cohort learns of the server only by reconciling (`pull`), as on a real cloud. The
image and flavor are the lab's. With `--host`, the lab's admin boots it onto that host instead, in the
tenant's project (an operator's forced placement, which bypasses the scheduler and so the group's
policy): the way to break a placement on purpose. It prints the server's id, status and host id, and
the fault of a server that ends in ERROR.
"""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError

from cohort.cloud import CloudError
from cohort.core.commands import Command as BaseCommand
from cohort.core.references import parse_uuid
from cohort.openstack.models import ServerGroup, Tenant


class Command(BaseCommand):
    help = "Boot a server in a tenant of the lab, optionally into a server group (by its Cohort uuid)."

    def add_arguments(self, parser):
        parser.add_argument("tenant", help="the tenant's uuid")
        parser.add_argument("name")
        parser.add_argument("--group", help="the server group's uuid in Cohort")
        parser.add_argument("--host", help="boot onto this compute host (host1, host2, ...) as the lab's admin")
        parser.add_argument("--lab-dir", help="the running lab's state directory (default: COHORT_HOME/lab)")

    def handle(self, tenant, name, group, host=None, lab_dir=None, **options):
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
        admin = _lab_admin(lab_dir or settings.HOME / "lab") if host else None
        try:
            server = cohort_lab.boot_server(record.cloud_access(), name, group_id, host=host, admin=admin)
        except CloudError as error:
            raise CommandError(error.message) from None
        self.stdout.write(f"{server.id} {server.status} host_id={server.host_id or '-'}")
        if server.fault_message:
            self.stdout.write(f"fault: {server.fault_message}")


def _lab_admin(lab_dir):
    """The running lab's admin, from the `lab.json` it wrote."""
    import cohort_lab

    ready = Path(lab_dir) / "lab.json"
    try:
        info = json.loads(ready.read_text())
    except (OSError, ValueError):
        raise CommandError(f"no running lab at {lab_dir} ({ready} is missing): --host needs the lab's admin") from None
    return cohort_lab.admin_access(info["auth_url"], info["admin_password"])
