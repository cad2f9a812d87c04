"""`cohort lab`: run the lab (a real Keystone and Nova on 127.0.0.1) in the foreground, for trying a
real cloud. The admin password and both URLs are in `lab.json` in the state directory (COHORT_HOME/lab),
where the lab keeps its databases from one start to the next (`--reset`: start empty)."""

import os
import sys

from django.conf import settings
from django.core.management.base import CommandError

from cohort.core.commands import Command as BaseCommand
from cohort.core.commands import port_number, positive_int


class Command(BaseCommand):
    help = "Run a real Keystone and Nova on 127.0.0.1 until interrupted (needs the `lab` extra)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=port_number, default=8774)
        parser.add_argument("--hosts", type=positive_int, default=3, help="fake compute hosts")
        parser.add_argument("--reset", action="store_true", help="forget the lab's groups, servers and tenants first")

    def handle(self, port, hosts, reset, **options):
        import cohort_lab

        if not cohort_lab.nova_installed():
            raise CommandError("the lab needs the `lab` extra: pip install -e '.[lab]'")
        state = str(settings.HOME / "lab")
        argv = [sys.executable, "-m", "cohort_lab", "--port", str(port), "--hosts", str(hosts), "--state-dir", state]
        if reset:
            argv.append("--reset")
        os.execv(sys.executable, argv)
