"""`cohort serve`: the embedded default in one command.

Starts the lab (a real Keystone and Nova on 127.0.0.1, when the `lab` extra is installed; else says loudly that
the cloud is in memory; the lab keeps its state in COHORT_HOME/lab, stamped with the database it belongs to,
and serve refuses to pair it with another database's records; `--reset-lab` starts it empty), migrates the
SQLite database under COHORT_HOME, creates the demo records, then supervises gunicorn, a Celery
worker and the periodic scheduler (over a file-system broker, so no broker server is needed) until
interrupted: a child that dies is restarted with backoff while the others go on
(`cohort.core.supervisor`), and everything it started is stopped on the way out.

The children's start-up chatter goes to COHORT_HOME/serve.log (`--verbose` keeps it on the terminal).
The banner (an admin token, a one-time sign-in link for the page, example requests) comes last, once
gunicorn answers and the worker and beat have said they are up (each writes a file into
COHORT_HOME/run: `cohort.celery`).
"""

import json
import os
import sys
import time
import urllib.request

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from cohort.core.authentication import SIGN_IN_LINK_SECONDS, issue_sign_in_link, issue_token
from cohort.core.commands import Command as BaseCommand
from cohort.core.commands import host_port
from cohort.core.supervisor import Child, Supervisor
from cohort.embedded import demo
from cohort.metrics import processes

OPENSTACK_DRIVER = "cohort.cloud.openstack.OpenStackDriver"
MEMORY_DRIVER = "cohort.cloud.memory.MemoryDriver"
# More pool processes than one cloud may use at once (CLOUD_CONCURRENCY), so a hung cloud leaves
# room for the others.
WORKER_CONCURRENCY = 3
# The in-memory cloud lives in the pool process that runs the steps, so it gets one: with several,
# each would hold a cloud of its own, and a tenant pull in one would drop the records of groups made
# in another, and import again groups deleted through another.
MEMORY_WORKER_CONCURRENCY = 1
# Messages a worker may hold per pool process. On the file-system broker Celery runs its loop without
# an event hub: it acknowledges messages only between polls, and a poll with the prefetch window full
# waits out its two-second timeout. With one message per process that caps the worker at a few
# messages every two seconds, whatever the pool does; with a few it keeps up. A message held by a
# worker that dies is lost, as one being run is: the sweep dispatches the work again.
WORKER_PREFETCH_MULTIPLIER = 4
# With the lab, pulls (settings.PULL_QUEUE) run in a worker of their own, so that a pull of a big
# tenant or of a hung cloud never takes a process from the steps; two, so that one cloud's pull does
# not wait for another's. (In memory, one worker takes both queues: its pool process is the cloud.)
PULL_WORKER_CONCURRENCY = 2


CLOUDS_YAML_NAME = "cohort-lab"
READY_WITHIN = 120.0  # seconds before serve says its children are slow to start, and where to look


def write_clouds_yaml(path, access):
    """A `clouds.yaml` (JSON is YAML) for the openstack CLI, readable by its owner only; its path."""
    cloud = {
        "auth": {
            "auth_url": access.auth_url,
            "username": access.credentials["username"],
            "password": access.credentials["password"],
            "user_domain_name": access.credentials["user_domain_name"],
            "project_id": access.project_id,
        },
        "region_name": access.region,
        "identity_api_version": 3,
    }
    path.touch(mode=0o600)
    path.write_text(json.dumps({"clouds": {CLOUDS_YAML_NAME: cloud}}, indent=2))
    return path


class Command(BaseCommand):
    help = "Run Cohort with everything it needs in one command (the embedded default)."

    def add_arguments(self, parser):
        parser.add_argument("--bind", type=host_port, default=os.environ.get("COHORT_BIND", "127.0.0.1:8000"))
        parser.add_argument("--memory", action="store_true", help="use the in-memory cloud, not the lab")
        parser.add_argument(
            "--verbose", action="store_true", help="show the output of gunicorn, the worker and beat here too"
        )
        parser.add_argument(
            "--reset-lab",
            action="store_true",
            help="start the lab empty, forgetting its groups, servers and tenants and Cohort's records of its groups",
        )

    def handle(self, bind, memory, reset_lab, verbose, **options):
        if memory and reset_lab:
            self.usage_error("argument --reset-lab: --memory runs no lab to reset")
        import cohort_lab

        lab = None
        if not memory and cohort_lab.nova_installed():
            lab_dir = settings.HOME / "lab"
            call_command("migrate", interactive=False, verbosity=0)  # the records are checked against the lab
            if reset_lab:
                cohort_lab.reset_state(lab_dir)
                groups, servers = demo.forget_lab_records()
                forgot = f"forgot {groups} server group(s) and {servers} server(s)"
                self.stdout.write(f"The lab starts empty (--reset-lab); {forgot}.")
            else:
                problem = demo.lab_mismatch(lab_dir, cohort_lab.read_stamp(lab_dir), cohort_lab.has_state(lab_dir))
                if problem:
                    raise CommandError(problem)
            self.stdout.write("Starting the lab (a real Keystone and Nova on 127.0.0.1)...")
            self.stdout.flush()
            lab = cohort_lab.start_lab(lab_dir)
        try:
            self.run(bind, lab, asked_for_memory=memory, verbose=verbose)
        finally:
            if lab is not None:
                lab.stop()

    @staticmethod
    def application_credential(lab):
        """A new application credential of the second demo tenant's user (its secret is shown only once,
        so each start makes one), the previous one revoked; its `CloudAccess`."""
        import secrets

        import cohort_lab
        from cohort.cloud import CloudError

        user = lab.tenant(demo.APP_CREDENTIAL_PROJECT)
        previous = demo.previous_application_credential()
        if previous:
            try:
                cohort_lab.delete_application_credential(user, previous)
            except CloudError:
                pass  # already gone (the lab was reset)
        return cohort_lab.create_application_credential(user, f"cohort-demo-{secrets.token_hex(4)}")

    def run(self, bind, lab, asked_for_memory=False, verbose=False):
        os.environ["COHORT_CLOUD_DRIVER"] = OPENSTACK_DRIVER if lab else MEMORY_DRIVER
        call_command("migrate", interactive=False, verbosity=0)
        demo_access = lab.tenant(demo.DEMO_PROJECT) if lab else None
        app_access = self.application_credential(lab) if lab else None
        records = demo.bootstrap(demo_access, lab.admin() if lab else None, app_access=app_access)
        if lab:
            import cohort_lab

            cohort_lab.write_stamp(lab.state_dir, demo.lab_stamp())  # the lab's state now belongs to this database
        clouds = write_clouds_yaml(settings.HOME / "lab" / "clouds.yaml", demo_access) if lab else None
        token = issue_token(records["admin"])
        tenant = records["tenant"].uuid.hex
        base = f"http://{bind}"
        if lab:
            cloud = (
                f"the lab, a real Keystone 30 at {lab.auth_url} and Nova 34 at {lab.endpoint}"
                f" (they keep their state in {lab.state_dir}: --reset-lab starts it empty)"
            )
        elif asked_for_memory:
            cloud = "the IN-MEMORY cloud (--memory): nothing reaches OpenStack, and no server can be booted"
        else:
            cloud = "the IN-MEMORY cloud: nothing reaches OpenStack (the lab is not installed: pip install -e '.[lab]')"
        auth = f"-H 'Authorization: Token {token}'"
        sign_in = f"{base}/ui/sign-in/{issue_sign_in_link(records['admin'])}/"
        app_tenant = records.get("app_tenant")
        banner = (
            f"\nCohort is ready on {base}/api/  (state in {settings.HOME})\n"
            f"Cloud: {cloud}\n"
            f"Admin token: {token}\n"
            f"Demo tenant: {tenant}\n"
            + (f"Second demo tenant (application credential): {app_tenant.uuid.hex}\n" if app_tenant else "")
            + f"Web page: {sign_in}\n"
            f"  (signs admin in once, within {SIGN_IN_LINK_SECONDS // 60} minutes, from this machine; for a lasting "
            "password: .venv/bin/cohort user admin --password -)\n\n"
            "Try:\n"
            f"  curl -s -w '\\n' {auth} {base}/api/openstack-server-groups/\n"
            f"  curl -s -w '\\n' {auth} -H 'Content-Type: application/json' \\\n"
            f'       -d \'{{"name": "web", "policy": "anti-affinity"}}\' \\\n'
            f"       {base}/api/openstack-tenants/{tenant}/create_server_group/\n"
        )
        if lab:
            banner += (
                f"  .venv/bin/cohort lab-boot {tenant} vm-1 --group <group uuid>   # boot a server into it\n"
                "  .venv/bin/cohort lab-host add host4   # another compute host (disable, enable: Nova's service)\n"
                f"  curl -s -w '\\n' {auth} -X POST {base}/api/openstack-tenants/{tenant}/pull_server_groups/\n"
                "\nThe openstack CLI, as the demo tenant's user, through the lab's Keystone:\n"
                f"  OS_CLIENT_CONFIG_FILE={clouds} openstack --os-cloud {CLOUDS_YAML_NAME} server list\n"
            )
        log_path = settings.HOME / "serve.log"
        banner += "\n" if verbose else f"\nThe output of gunicorn, the worker and beat: {log_path}\n\n"

        def announce() -> None:
            self.stdout.write(banner)
            self.stdout.flush()

        ready_dir = settings.HOME / "run"
        ready_dir.mkdir(exist_ok=True)
        for stale in ready_dir.iterdir():
            stale.unlink()
        os.environ["COHORT_READY_DIR"] = str(ready_dir)
        host, port = bind.rsplit(":", 1)
        live = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host.strip('[]')}:{port}/health/live"
        started = time.monotonic()
        slow = []

        def ready() -> bool:
            if all((ready_dir / name).exists() for name in ("worker", "beat")) and _answers(live):
                return True
            if not slow and time.monotonic() - started > READY_WITHIN:
                slow.append(True)
                where = "above" if verbose else f"in {log_path}"
                self.stderr.write(f"Cohort is not ready after {READY_WITHIN:.0f} s; its processes' output is {where}.")
            return False

        self.stdout.write(
            "Starting gunicorn, the worker and beat"
            + ("...\n" if verbose else f" (their output goes to {log_path})...\n")
        )
        self.stdout.flush()
        output = None if verbose else os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        processes.prepare("serve")  # one folder for the figures of all three children
        python = sys.executable
        celery = [python, "-m", "celery", "--app", "cohort"]
        web = [python, "-m", "gunicorn", "cohort.wsgi:application", "--bind", bind, "--workers", "2",
               "--access-logfile", "-", "--config", "python:cohort.gunicorn_config"]  # fmt: skip

        def worker(concurrency: int, *options: str) -> list[str]:
            return [*celery, "worker", "--pool", "prefork", "--concurrency", str(concurrency),
                    "--prefetch-multiplier", str(WORKER_PREFETCH_MULTIPLIER), *options,
                    "--loglevel", "INFO", "--without-gossip", "--without-mingle"]  # fmt: skip

        if lab:
            steps = worker(WORKER_CONCURRENCY, "--queues", settings.CELERY_TASK_DEFAULT_QUEUE)
            pulls = worker(PULL_WORKER_CONCURRENCY, "--queues", settings.PULL_QUEUE, "--hostname", "pulls@%h")
            workers = [Child("worker", steps, output=output), Child("pulls", pulls, output=output)]
        else:
            workers = [Child("worker", worker(MEMORY_WORKER_CONCURRENCY), output=output)]
        beat = [*celery, "beat", "--loglevel", "INFO"]
        Supervisor(
            [Child("web", web, output=output), *workers, Child("beat", beat, output=output)],
            ready=ready,
            on_ready=announce,
        ).run()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False
