"""`cohort serve`: the embedded default in one command.

Starts the lab (a real Nova on 127.0.0.1, when the `lab` extra is installed; else says loudly that
the cloud is in memory), migrates the SQLite database under COHORT_HOME, creates the demo records,
prints an admin token and example requests, then runs a Celery worker (with the periodic scheduler
inside it, over kombu's filesystem transport, so no broker server is needed) and gunicorn, until
interrupted. Everything it started is stopped on the way out.
"""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from cohort import demo
from cohort.core.authentication import issue_token

OPENSTACK_DRIVER = "cohort.cloud.openstack.OpenStackDriver"
MEMORY_DRIVER = "cohort.cloud.memory.MemoryDriver"


class Command(BaseCommand):
    help = "Run Cohort with everything it needs in one command (the embedded default)."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=os.environ.get("COHORT_BIND", "127.0.0.1:8000"))
        parser.add_argument("--memory", action="store_true", help="use the in-memory cloud, not the lab")

    def handle(self, bind, memory, **options):
        import cohort_lab

        lab = None
        if not memory and cohort_lab.nova_installed():
            self.stdout.write("Starting the lab (a real Nova on 127.0.0.1)...")
            self.stdout.flush()
            lab = cohort_lab.start_lab(settings.HOME / "lab")
        try:
            self.run(bind, lab)
        finally:
            if lab is not None:
                lab.stop()

    def run(self, bind, lab):
        os.environ["COHORT_CLOUD_DRIVER"] = OPENSTACK_DRIVER if lab else MEMORY_DRIVER
        call_command("migrate", interactive=False, verbosity=0)
        records = demo.bootstrap(lab.endpoint if lab else demo.MEMORY_URL)
        token = issue_token(records["admin"])
        tenant = records["tenant"].uuid.hex
        base = f"http://{bind}"
        if lab:
            cloud = f"the lab, a real Nova 34 at {lab.endpoint} (it starts empty each time)"
        else:
            cloud = "the IN-MEMORY cloud: nothing reaches OpenStack (install the lab: pip install -e '.[lab]')"
        auth = f"-H 'Authorization: Token {token}'"
        self.stdout.write(
            f"\nCohort is starting on {base}/api/  (state in {settings.HOME})\n"
            f"Cloud: {cloud}\n"
            f"Admin token: {token}\n"
            f"Demo tenant: {tenant}\n\n"
            "Try:\n"
            f"  curl -s {auth} {base}/api/openstack-server-groups/\n"
            f"  curl -s {auth} -H 'Content-Type: application/json' \\\n"
            f'       -d \'{{"name": "web", "policy": "anti-affinity"}}\' \\\n'
            f"       {base}/api/openstack-tenants/{tenant}/create_server_group/\n"
        )
        if lab:
            self.stdout.write(
                f"  .venv/bin/cohort lab-boot {tenant} vm-1 --group <group uuid>   # boot a server into it\n"
                f"  curl -s {auth} -X POST {base}/api/openstack-tenants/{tenant}/pull_server_groups/\n"
            )
        self.stdout.write("\n")
        self.stdout.flush()
        python = sys.executable
        children = [
            subprocess.Popen([python, "-m", "celery", "--app", "cohort", "worker", "--pool", "solo", "--beat",
                              "--loglevel", "INFO", "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME]),
            subprocess.Popen([python, "-m", "gunicorn", "cohort.wsgi:application", "--bind", bind,
                              "--workers", "2", "--access-logfile", "-"]),
        ]  # fmt: skip
        stop = []
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.append(True))
        try:
            while not stop and all(child.poll() is None for child in children):
                time.sleep(0.5)
        finally:
            for child in children:
                if child.poll() is None:
                    child.terminate()
            for child in children:
                try:
                    child.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    child.kill()
        if not stop:
            sys.exit("cohort serve: a worker or web process stopped unexpectedly")
