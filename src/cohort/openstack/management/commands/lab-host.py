"""`cohort lab-host add|disable|enable NAME`: change the compute hosts of the running lab, as an operator would.

`add` starts a new fake compute host in the lab that `cohort serve` runs (or `cohort lab`): a
nova-compute service, its compute node in placement, its cell mapping; the scheduler may use it from
the next request on, and the lab starts it again after a restart. No OpenStack API adds hardware, so
this goes to the lab's control endpoint on Nova's port, with the secret the lab wrote into
`lab.json` (`cohort_lab.control`). `disable` and `enable` go through Nova's own API as the lab's
admin (`openstack compute service set --disable|--enable NAME nova-compute`): the scheduler skips a
disabled host; the servers on it stay. The lab is found through `lab.json` in COHORT_HOME/lab (or
`--lab-dir`); with no lab running, the command says so.
"""

from django.conf import settings
from django.core.management.base import CommandError

from cohort.cloud import CloudError
from cohort.core.commands import Command as BaseCommand

ACTIONS = ("add", "disable", "enable")


class Command(BaseCommand):
    help = "Add a compute host to the running lab, or disable or enable one (the lab of `cohort serve`)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=ACTIONS, help="add a new host, or disable or enable an existing one")
        parser.add_argument("name", help="the compute host's name (host4, ...)")
        parser.add_argument("--lab-dir", help="the running lab's state directory (default: COHORT_HOME/lab)")

    def handle(self, action, name, lab_dir=None, **options):
        from cohort_lab import control

        if not control.valid_host_name(name):
            self.usage_error(f"argument name: {name!r} is not a host name (letters, digits, '.', '-', '_'; up to 63)")
        lab_dir = lab_dir or settings.HOME / "lab"
        try:
            if action == "add":
                hosts = control.add_host(lab_dir, name)
                self.stdout.write(f"{name} added; the lab's compute hosts: {', '.join(hosts)}")
                return
            _set_enabled(lab_dir, name, action == "enable")
        except control.LabControlError as error:
            raise CommandError(str(error)) from None
        except CloudError as error:
            raise CommandError(error.message) from None
        if action == "enable":
            self.stdout.write(f"{name} enabled: the scheduler may use it again")
        else:
            self.stdout.write(f"{name} disabled: the scheduler skips it; the servers on it stay")


def _set_enabled(lab_dir, name: str, enabled: bool) -> None:
    import cohort_lab
    from cohort.cloud import Unreachable
    from cohort_lab import control

    info = control.read_lab_info(lab_dir)
    try:
        admin = cohort_lab.admin_access(info["auth_url"], info["admin_password"])
        cohort_lab.set_host_enabled(admin, name, enabled)
    except Unreachable:
        raise control.LabControlError(f"no lab answers at {info['auth_url']}: is `cohort serve` running?") from None
