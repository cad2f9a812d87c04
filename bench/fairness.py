"""Benchmark: creates on a healthy cloud while other clouds misbehave (issue 20, fair to every cloud).

    .venv/bin/python bench/fairness.py [--seconds 60] [--groups 5000] [--big-lab DIR] [--broker URL]
    COHORT_DATABASE_URL=postgres://... .venv/bin/python bench/fairness.py --database NAME --broker redis://...

Starts `cohort serve` with the lab (a fresh COHORT_HOME and SQLite database, or with COHORT_DATABASE_URL
the PostgreSQL database `--database` on that server, dropped and made again; a free port on 127.0.0.1;
the workers as serve runs them: pool sizes, prefetch and `COHORT_CLOUD_CONCURRENCY` left at their
defaults) and registers three more clouds next to the lab's demo cloud, each with a tenant of the demo project:

- hung: a Keystone that accepts connections and never answers (`tests/silent_cloud.py`), so every
  step or pull against it waits out `COHORT_CLOUD_TIMEOUT`;
- refusing: a Keystone that answers 401 to everything (`tests/refusing_keystone.py`);
- big: a second lab (its state kept in `--big-lab`, filled once with `--groups` groups through
  Nova's API, in one tenant), run at the lowest CPU priority, since a real cloud's listing does not
  run on Cohort's machine.

Phase A, the others idle: for `--seconds`, one client creates a group in the demo tenant, polls it
until it shows OK (create-to-OK: from sending the POST to the GET that showed OK), pauses `--pause`
and goes on. Phase B, the others misbehaving: the same, while `--hung-creates` creates wait on the
hung cloud, a create is sent to the refusing cloud every second, the big tenant is pulled (its
`pull_server_groups` at the start; its first pull imports every group) and the periodic
reconciliation (`reconcile_all`, which beat sends every `COHORT_RECONCILE_INTERVAL`) is sent every
`--reconcile-every` seconds. Beat's own schedule is pushed out of the run, so phase A sees none.

It prints p50, p95 and max of create-to-OK in both phases and their ratio as a markdown table, with
the load average. Nothing here asserts a figure; `tests/test_fairness.py` holds the hung-cloud part.
"""

from __future__ import annotations

import argparse
import http.server
import json
import logging
import math
import os
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from tests.refusing_keystone import Refuses401  # noqa: E402
from tests.silent_cloud import Silent  # noqa: E402

from bench.create_latency import create_to_ok, tree  # noqa: E402
from bench.fresh_database import fresh_database  # noqa: E402
from bench.mixed_load import Serve  # noqa: E402

BIG_TENANT = "fairness-big"
POLICY = "anti-affinity"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def percentile(samples: list[float], p: float) -> float:
    """Nearest rank."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def start_big_lab(state_dir: Path, groups: int):
    """The second lab, with `groups` groups in tenant `BIG_TENANT` (made the first time, kept in
    `state_dir`), its processes at the lowest CPU priority; (lab, the tenant's access)."""
    import cohort_lab
    from cohort.cloud.openstack import OpenStackDriver

    lab = cohort_lab.start_lab(state_dir, timeout=300)
    for pid in tree(lab.process.pid):
        os.setpriority(os.PRIO_PROCESS, pid, 19)
    access = lab.tenant(BIG_TENANT)
    driver = OpenStackDriver(access)
    have = len(driver.list_server_groups())
    if have < groups:
        log(f"big lab: making {groups - have:,} groups (once; kept in {state_dir})")
        started = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            names = (f"big-{i:06d}" for i in range(have, groups))
            made = pool.map(lambda name: driver.create_server_group(name=name, policy=POLICY), names)
            for done, _ in enumerate(made):
                if (done + 1) % 500 == 0:
                    log(f"big lab: {have + done + 1:,} groups ({(done + 1) / (time.monotonic() - started):.0f}/s)")
    return lab, access


def register_clouds(demo_tenant: str, hung_url: str, refusing_url: str, big) -> dict[str, str]:
    """The three other clouds and their tenants, in serve's database; tenant uuids by role."""
    from cohort.openstack.models import Tenant
    from cohort.structure.models import ServiceSettings

    demo = Tenant.objects.select_related("project").get(uuid=demo_tenant)
    login = {"username": "cohort", "password": "wrong", "user_domain_name": "Default"}
    clouds = {
        "hung": ServiceSettings.objects.create(name="hung", auth_url=hung_url, credentials=login),
        "refusing": ServiceSettings.objects.create(name="refusing", auth_url=refusing_url, credentials=login),
        "big": ServiceSettings.objects.create(name="big", auth_url=big.auth_url, region=big.region),
    }
    tenants = {}
    for role, cloud in clouds.items():
        backend_id = big.project_id if role == "big" else f"{role}-0123456789abcdef"
        tenant = Tenant.objects.create(name=role, project=demo.project, service_settings=cloud, backend_id=backend_id)
        if role == "big":
            tenant.credentials = dict(big.credentials)
            tenant.save()
        tenants[role] = tenant.uuid.hex
    return tenants


def phase(
    http: httpx.Client, tenant: str, seconds: float, pause: float, poll: float, label: str, kept: list | None = None
) -> list[float]:
    """Create-to-OK of one create after another in `tenant` for `seconds`; each (start, seconds) is
    also appended to `kept`."""
    samples: list[float] = []
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        sample = create_to_ok(http, tenant, f"{label}-{len(samples)}-{time.time_ns()}", poll)
        samples.append(sample["ok"])
        if kept is not None:
            kept.append((label, sample["wall"], sample["ok"]))
        time.sleep(pause)
    return samples


class Misbehaviour:
    """Phase B's traffic to the other clouds, on threads of its own until `stop()`."""

    def __init__(self, http: httpx.Client, tenants: dict[str, str], hung_creates: int, reconcile_every: float):
        self.http, self.tenants = http, tenants
        self.hung_creates, self.reconcile_every = hung_creates, reconcile_every
        self.stopping = threading.Event()
        self.sent = {"hung": 0, "refusing": 0, "reconcile_all": 0}
        self.threads = [threading.Thread(target=self.refuse, daemon=True), threading.Thread(target=self.reconcile)]

    def create(self, role: str) -> None:
        body = {"name": f"{role}-{time.time_ns()}", "policy": POLICY}
        response = self.http.post(f"/openstack-tenants/{self.tenants[role]}/create_server_group/", json=body)
        response.raise_for_status()
        self.sent[role] += 1

    def start(self) -> None:
        for _ in range(self.hung_creates):
            self.create("hung")
        self.http.post(f"/openstack-tenants/{self.tenants['big']}/pull_server_groups/").raise_for_status()
        for thread in self.threads:
            thread.start()

    def refuse(self) -> None:
        while not self.stopping.wait(1.0):
            self.create("refusing")

    def reconcile(self) -> None:
        from cohort.celery import app

        while True:
            app.send_task("cohort.openstack.tasks.reconcile_all")
            self.sent["reconcile_all"] += 1
            if self.stopping.wait(self.reconcile_every):
                return

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(30)


def report(a: list[float], b: list[float], load: tuple[str, str], concurrency: dict[str, str]) -> str:
    def ms(seconds: float) -> str:
        return f"{seconds * 1000:,.0f} ms"

    def row(name: str, samples: list[float]) -> str:
        figures = [percentile(samples, 50), percentile(samples, 95), max(samples)]
        return f"| {name} | {len(samples)} | " + " | ".join(map(ms, figures)) + " |"

    ratios = [percentile(b, 50) / percentile(a, 50), percentile(b, 95) / percentile(a, 95), max(b) / max(a)]
    lines = [
        "| phase | creates | p50 | p95 | max |",
        "|---|---:|---:|---:|---:|",
        row("A: the other clouds idle", a),
        row("B: hung, refusing, 5,000-group pull, reconcile", b),
        "| ratio B / A | | " + " | ".join(f"**{ratio:.2f}x**" for ratio in ratios) + " |",
        "",
        f"workers: {concurrency['workers']} pool processes for the steps, {concurrency['pulls']} for the pulls, "
        f"prefetch multiplier {concurrency['prefetch']}, "
        f"COHORT_CLOUD_CONCURRENCY={concurrency['cloud']}; load average (1, 5, 15 min) at the start "
        f"{load[0]}, at the end {load[1]}",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="length of each phase")
    parser.add_argument("--pause", type=float, default=0.3, help="pause between two creates of the client")
    parser.add_argument("--poll-ms", type=float, default=10.0, help="pause between two GETs of a new group")
    parser.add_argument("--groups", type=int, default=5000, help="groups in the big cloud's tenant")
    parser.add_argument("--big-lab", type=Path, default=Path.home() / ".cache" / "cohort-bench" / "fairness-lab")
    parser.add_argument("--hung-creates", type=int, default=6, help="creates sent to the hung cloud in phase B")
    parser.add_argument("--reconcile-every", type=float, default=15.0)
    parser.add_argument("--broker", default="", help="COHORT_BROKER_URL for serve (default: the file-system broker)")
    parser.add_argument(
        "--database", default="cohort_bench_fairness", help="with COHORT_DATABASE_URL: the database to (re)build"
    )
    parser.add_argument("--log", type=Path, help="write serve's output to this file")
    parser.add_argument("--samples", type=Path, help="write every sample (phase, start, seconds) to this JSON file")
    args = parser.parse_args()
    poll = args.poll_ms / 1000

    home = Path(tempfile.mkdtemp(prefix="cohort-fairness-"))
    env = {"PYTHONPATH": str(ROOT / "src"), "COHORT_LOG_LEVEL": "INFO", "COHORT_RECONCILE_INTERVAL": "86400"}
    if args.broker:
        env["COHORT_BROKER_URL"] = args.broker
        if args.broker.startswith("redis"):
            import redis  # the run's messages only

            redis.Redis.from_url(args.broker).flushdb()
    os.environ.update({key: value for key, value in env.items() if key != "COHORT_LOG_LEVEL"}, COHORT_HOME=str(home))
    fresh_database(args.database)  # SQLite under `home`, or `--database` on COHORT_DATABASE_URL's server
    if "COHORT_DATABASE_URL" in os.environ:
        env["COHORT_DATABASE_URL"] = os.environ["COHORT_DATABASE_URL"]
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from django.conf import settings

    from cohort.embedded.management.commands import serve as serve_command

    concurrency = {
        "workers": serve_command.WORKER_CONCURRENCY,
        "pulls": serve_command.PULL_WORKER_CONCURRENCY,
        "prefetch": serve_command.WORKER_PREFETCH_MULTIPLIER,
        "cloud": settings.CLOUD_CONCURRENCY,
    }
    big_lab, big = start_big_lab(args.big_lab, args.groups)
    hung = Silent()
    refusing = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuses401)
    threading.Thread(target=refusing.serve_forever, daemon=True).start()
    serve, kept = None, []
    try:
        serve = Serve.start(home, lab=True, env=env)
        tenants = register_clouds(serve.tenant, hung.auth_url, f"http://127.0.0.1:{refusing.server_port}/v3", big)
        load_start = " ".join(f"{value:.2f}" for value in os.getloadavg())
        with httpx.Client(base_url=serve.api, headers=serve.headers, timeout=60) as http_client:
            phase(http_client, serve.tenant, 3, args.pause, poll, "warm-up")  # each pool process logs in
            log(f"phase A: {args.seconds:.0f} s of creates, the other clouds idle")
            a = phase(http_client, serve.tenant, args.seconds, args.pause, poll, "fair-a", kept)
            log(f"phase B: {args.seconds:.0f} s of creates, the other clouds misbehaving")
            trouble = Misbehaviour(http_client, tenants, args.hung_creates, args.reconcile_every)
            trouble.start()
            try:
                b = phase(http_client, serve.tenant, args.seconds, args.pause, poll, "fair-b", kept)
            finally:
                trouble.stop()
            load_end = " ".join(f"{value:.2f}" for value in os.getloadavg())
            states = others(tenants)
    finally:
        if serve is not None:
            serve.stop()
            if args.log:
                args.log.write_text(serve.output())
            if args.samples:
                args.samples.write_text(json.dumps(kept))
        hung.close()
        refusing.shutdown()
        big_lab.stop()
        shutil.rmtree(home, ignore_errors=True)  # serve's home and its lab's state
    print()
    print(report(a, b, (load_start, load_end), concurrency))
    print(f"\nsent in phase B: {trouble.sent}; the other clouds' records at the end: {states}")


def others(tenants: dict[str, str]) -> dict[str, dict[str, int]]:
    from django.db.models import Count

    from cohort.openstack.models import ServerGroup

    found: dict[str, dict[str, int]] = {}
    for role, uuid in tenants.items():
        rows = ServerGroup.objects.filter(tenant__uuid=uuid).values("state").annotate(n=Count("pk"))
        found[role] = {row["state"]: row["n"] for row in rows}
    return found


if __name__ == "__main__":
    main()
