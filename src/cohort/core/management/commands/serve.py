"""`cohort serve`: the embedded default in one command.

Migrates the SQLite database under COHORT_HOME, creates the demo records, prints an admin token and
an example request, then runs a Celery worker (with the periodic scheduler inside it, over kombu's
filesystem transport, so no broker server is needed) and gunicorn, until interrupted.
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


class Command(BaseCommand):
    help = "Run Cohort with everything it needs in one command (the embedded default)."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=os.environ.get("COHORT_BIND", "127.0.0.1:8000"))

    def handle(self, bind, **options):
        call_command("migrate", interactive=False, verbosity=0)
        records = demo.bootstrap()
        token = issue_token(records["admin"])
        tenant = records["tenant"]
        base = f"http://{bind}"
        in_memory = "the IN-MEMORY cloud (nothing reaches OpenStack)"
        cloud = in_memory if records["in_memory"] else settings.CLOUD_DRIVER
        self.stdout.write(
            f"\nCohort is starting on {base}/api/  (state in {settings.HOME})\n"
            f"Cloud: {cloud}\n"
            f"Admin token: {token}\n"
            f"Demo tenant: {tenant.name} {tenant.uuid.hex}\n\n"
            f"Try:\n"
            f"  curl -s -H 'Authorization: Token {token}' {base}/api/openstack-server-groups/\n"
            f"  curl -s -H 'Authorization: Token {token}' -H 'Content-Type: application/json' \\\n"
            f'       -d \'{{"name": "web", "policy": "anti-affinity"}}\' '
            f"{base}/api/openstack-tenants/{tenant.uuid.hex}/create_server_group/\n\n"
        )
        self.stdout.flush()
        python = sys.executable
        children = [
            subprocess.Popen(
                [
                    python,
                    "-m",
                    "celery",
                    "--app",
                    "cohort",
                    "worker",
                    "--pool",
                    "solo",
                    "--beat",
                    "--loglevel",
                    "INFO",
                    "--schedule",
                    settings.CELERY_BEAT_SCHEDULE_FILENAME,
                ]
            ),
            subprocess.Popen(
                [
                    python,
                    "-m",
                    "gunicorn",
                    "cohort.wsgi:application",
                    "--bind",
                    bind,
                    "--workers",
                    "2",
                    "--access-logfile",
                    "-",
                ]
            ),
        ]
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
        failed = [c.args[2] for c in children if c.returncode not in (0, -signal.SIGTERM, None)]
        if failed and not stop:
            sys.exit(f"cohort serve: {', '.join(failed)} stopped unexpectedly")
