"""Benchmark: create-to-OK and creates per second with 1, 2 and 4 worker processes, as production runs.

    COHORT_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/workers.py [--database cohort_bench_workers] [--broker redis://127.0.0.1:6379/11]
            [--cloud memory labs] [--workers 1 2 4] [--clients 1 2 4 8 16] [--step 10] [--poll-ms 10]

Cohort in its production shape on this machine: the database `--database` on the PostgreSQL server of
COHORT_DATABASE_URL (dropped and made again), the broker `--broker` (a Redis database is emptied first),
one `cohort web` (gunicorn, 2 workers) and N `cohort worker --concurrency 1` processes (so N pool
processes in all), each with a COHORT_HOME of its own, sharing the database, the broker and the keys.
No beat: the sweep runs in every worker, and nothing here needs the periodic pull.

Two clouds, one after the other:

- `memory`: the in-memory Nova (`cohort.cloud.memory.MemoryDriver`, with its quota lifted, see
  `UnlimitedMemoryDriver`), one tenant. The in-memory Nova lives in each pool process, so N workers are
  N clouds, each as fast as a dictionary: what is measured is Cohort.
- `labs`: two labs at once (`cohort_lab.start_lab()`, a real Keystone and Nova each), one tenant on each,
  the clients spread over both. Each lab's Nova answers one request at a time, and Cohort runs at most
  `COHORT_CLOUD_CONCURRENCY` (2) steps on each cloud, so two clouds let four workers all work.

For each number of workers, closed-loop clients (each its own keep-alive connection) create a group
through the tenant's `create_server_group` action and poll it (`?field=state`, a GET every `--poll-ms`)
until it shows OK, then create the next (`bench/create_latency.py`'s `create_to_ok`); `--clients` is the
ramp, each step `--step` seconds after a short warm-up. Per step it prints creates per second (groups
seen OK over the step's wall time, from its start to the last one seen), the p50 and p95 of create-to-OK
as the clients saw it and of the row's move to OK (its `modified`, by the server's clock), and where the
CPU went, in cores: the machine as a whole (/proc/stat: other jobs on the machine count too), web,
workers, the PostgreSQL backends of this database, the labs and this process (the clients). A share near
2.0 for the machine means the two cores are the limit; a lab near 1.0, that lab's Nova.

Nothing here asserts a figure: it is a measurement for the manual, not a test.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from bench.create_latency import cpu_seconds, create_to_ok, tree  # noqa: E402
from bench.mixed_load import free_port  # noqa: E402
from cohort.cloud import memory  # noqa: E402

MEMORY_URL = "memory://bench-workers"
MEMORY_DRIVER = "bench.workers.UnlimitedMemoryDriver"
OPENSTACK_DRIVER = "cohort.cloud.openstack.OpenStackDriver"


class UnlimitedMemoryDriver(memory.MemoryDriver):
    """The in-memory Nova without its default quota of 10 groups a project: a run makes thousands."""

    def __init__(self, access):
        super().__init__(access)
        self.cloud.quota = memory.UNLIMITED


# --- the processes ------------------------------------------------------------------------------------


@dataclass
class Cohort:
    """The environment every process of the run shares, and the processes started with it."""

    env: dict[str, str]
    base: Path
    processes: list[subprocess.Popen] = field(default_factory=list)

    def start(self, role: str, arguments: list[str], name: str) -> subprocess.Popen:
        home = self.base / name
        home.mkdir(parents=True, exist_ok=True)
        (home / "ready").mkdir(exist_ok=True)
        env = {**self.env, "COHORT_HOME": str(home), "COHORT_READY_DIR": str(home / "ready")}
        with open(home / "output.log", "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "cohort.cli", role, *arguments],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    def start_workers(self, count: int, tag: str) -> list[subprocess.Popen]:
        workers = [
            self.start("worker", ["--", "--concurrency", "1", "--without-gossip", "--without-mingle"], f"{tag}-{n}")
            for n in range(count)
        ]
        deadline = time.monotonic() + 120
        while not all((self.base / f"{tag}-{n}" / "ready" / "worker").exists() for n in range(count)):
            if time.monotonic() > deadline or any(worker.poll() is not None for worker in workers):
                raise RuntimeError(f"the workers did not start: see {self.base}/{tag}-*/output.log")
            time.sleep(0.2)
        return workers

    def stop(self, processes: list[subprocess.Popen]) -> None:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            if process in self.processes:
                self.processes.remove(process)


def wait_for_web(url: str, headers: dict[str, str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/openstack-server-groups/?page_size=1", headers=headers, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"cohort web did not answer at {url}")


# --- the records --------------------------------------------------------------------------------------


def records(labs: list) -> tuple[str, dict[str, list[str]]]:
    """A staff token, and the tenants (uuids) to create in, per cloud setup: one in memory, one per lab."""
    from django.contrib.auth import get_user_model

    from cohort.core.authentication import issue_token
    from cohort.openstack.models import Tenant
    from cohort.structure.models import Customer, Project, ServiceSettings

    admin = get_user_model().objects.create(username="bench", is_staff=True, is_superuser=True)
    customer = Customer.objects.create(name="Bench customer", abbreviation="BENCH")
    project = Project.objects.create(customer=customer, name="Bench project")
    memory_cloud = ServiceSettings.objects.create(
        name="memory", auth_url=MEMORY_URL, auth_type=ServiceSettings.AuthType.ADMIN_TOKEN, shared=True
    )
    tenants = {
        "memory": [
            Tenant.objects.create(
                service_settings=memory_cloud,
                project=project,
                name="memory-tenant",
                backend_id="bench",
                credentials={"token": "bench:bench"},
            ).uuid.hex
        ],
        "labs": [],
    }
    for number, lab in enumerate(labs):
        access = lab.tenant("bench")
        cloud = ServiceSettings.objects.create(
            name=f"lab-{number}",
            auth_url=access.auth_url,
            auth_type=ServiceSettings.AuthType.PASSWORD,
            region=access.region,
            credentials={"user_domain_name": access.credentials["user_domain_name"]},
            shared=True,
        )
        tenant = Tenant.objects.create(
            service_settings=cloud,
            project=project,
            name=f"lab-{number}-tenant",
            backend_id=access.project_id,
            credentials={key: access.credentials[key] for key in ("username", "password")},
        )
        tenants["labs"].append(tenant.uuid.hex)
    return issue_token(admin), tenants


# --- the load -----------------------------------------------------------------------------------------


def quantile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs so far, from /proc/stat."""
    with open("/proc/stat") as file:
        values = [int(value) for value in file.readline().split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return sum(values) - idle, sum(values)


def backends(database: str) -> list[int]:
    """The pids of the PostgreSQL backends connected to `database`."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [database])
        return [row[0] for row in cursor.fetchall()]


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class CpuMeter:
    """CPU seconds used over a step, per role, from /proc (processes that end during it are missed)."""

    def __init__(self, roles: dict[str, list[int]], database: str):
        self.roles, self.database = roles, database

    def read(self) -> dict[str, dict[int, float]]:
        found = {
            role: {pid: cpu_seconds([pid]) for root in roots for pid in tree(root)}
            for role, roots in self.roles.items()
        }
        found["postgres"] = {pid: cpu_seconds([pid]) for pid in backends(self.database)}
        return found

    def __enter__(self) -> CpuMeter:
        self.before, self.machine, self.own, self.started = self.read(), machine_busy(), own_cpu(), time.monotonic()
        return self

    def __exit__(self, *exc) -> None:
        after, machine, own = self.read(), machine_busy(), own_cpu()
        wall = time.monotonic() - self.started
        busy, total = (machine[0] - self.machine[0]), (machine[1] - self.machine[1])
        self.cores = {"machine": busy / total * (os.cpu_count() or 1) if total else 0.0}
        self.cores["bench"] = (own - self.own) / wall
        for role, pids in after.items():
            self.cores[role] = sum(cpu - self.before[role].get(pid, 0.0) for pid, cpu in pids.items()) / wall


@dataclass
class Step:
    clients: int
    seconds: float = 0.0
    ok: list[float] = field(default_factory=list)
    moved: list[float] = field(default_factory=list)
    post: list[float] = field(default_factory=list)
    errors: int = 0
    cores: dict[str, float] = field(default_factory=dict)
    load: str = ""

    @property
    def rate(self) -> float:
        return len(self.ok) / self.seconds if self.seconds else 0.0


def run_step(api: str, token: str, tenants: list[str], clients: int, seconds: float, poll: float, tag: str) -> Step:
    step = Step(clients)
    lock = threading.Lock()
    started = time.monotonic()
    until = started + seconds
    finished: list[float] = []

    def client(number: int) -> None:
        tenant = tenants[number % len(tenants)]
        headers = {"Authorization": f"Token {token}"}
        with httpx.Client(base_url=api, headers=headers, timeout=60) as http:
            count = 0
            while time.monotonic() < until:
                count += 1
                try:
                    sample = create_to_ok(http, tenant, f"{tag}-{number}-{count}", poll)
                except (RuntimeError, httpx.HTTPError):
                    with lock:
                        step.errors += 1
                    continue
                with lock:
                    step.ok.append(sample["ok"])
                    step.moved.append(sample["moved"])
                    step.post.append(sample["post"])
                    finished.append(time.monotonic())

    threads = [threading.Thread(target=client, args=(number,)) for number in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    step.seconds = (max(finished) if finished else time.monotonic()) - started
    return step


def run_config(cohort: Cohort, cloud: str, workers: int, args, api: str, token: str, tenants, roots) -> list[Step]:
    tag = f"{cloud}-{workers}w-{uuid.uuid4().hex[:6]}"
    started = cohort.start_workers(workers, tag)
    try:
        roles = {"web": roots["web"], "workers": [worker.pid for worker in started], "labs": roots["labs"]}
        # Warm-up: every pool process logs in to each cloud once and has its connections open.
        run_step(api, token, tenants, max(2 * workers, 2), args.warm_up, args.poll_ms / 1000, f"{tag}-warm")
        steps = []
        for clients in args.clients:
            load = " ".join(f"{value:.1f}" for value in os.getloadavg())
            with CpuMeter(roles, args.database) as meter:
                step = run_step(api, token, tenants, clients, args.step, args.poll_ms / 1000, f"{tag}-{clients}c")
            step.cores, step.load = meter.cores, load
            steps.append(step)
            p50 = statistics.median(step.ok) * 1000 if step.ok else float("nan")
            print(f"  {cloud}, {workers} worker(s), {clients} client(s): {step.rate:.1f} creates/s, "
                  f"p50 {p50:.0f} ms, errors {step.errors}, load {load}", flush=True)  # fmt: skip
        return steps
    finally:
        cohort.stop(started)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def tables(results: dict[tuple[str, int], list[Step]], at_clients: int, poll_ms: float) -> str:
    out = [
        f"Create-to-OK at {at_clients} concurrent clients (a GET every {poll_ms:g} ms), ms:",
        "",
        "| cloud | workers | creates/s | p50 | p95 | row moved to OK, p50 / p95 | load average (1, 5, 15 min) |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for (cloud, workers), steps in results.items():
        step = next((step for step in steps if step.clients == at_clients), steps[-1])
        out.append(
            f"| {cloud} | {workers} | {step.rate:.1f} | {ms(quantile(step.ok, 0.5))} | {ms(quantile(step.ok, 0.95))} "
            f"| {ms(quantile(step.moved, 0.5))} / {ms(quantile(step.moved, 0.95))} | {step.load} |"
        )
    out += [
        "",
        "The ramp: creates per second and create-to-OK (ms) by concurrent clients; CPU in cores over the step:",
        "",
        "| cloud | workers | clients | creates/s | p50 | p95 | errors | machine | web | workers | PostgreSQL | labs "
        "| clients | load average |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for (cloud, workers), steps in results.items():
        for step in steps:
            cores = step.cores
            out.append(
                f"| {cloud} | {workers} | {step.clients} | {step.rate:.1f} | {ms(quantile(step.ok, 0.5))} "
                f"| {ms(quantile(step.ok, 0.95))} | {step.errors} | {cores['machine']:.2f} | {cores['web']:.2f} "
                f"| {cores['workers']:.2f} | {cores['postgres']:.2f} | {cores['labs']:.2f} | {cores['bench']:.2f} "
                f"| {step.load} |"
            )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="cohort_bench_workers", help="made afresh on the URL's server")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/11", help="COHORT_BROKER_URL (Redis: emptied)")
    parser.add_argument("--cloud", nargs="+", choices=("memory", "labs"), default=["memory", "labs"])
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2, 4])
    parser.add_argument("--clients", nargs="+", type=int, default=[1, 2, 4, 8, 16])
    parser.add_argument("--at-clients", type=int, default=4, help="the step whose latency the first table shows")
    parser.add_argument("--step", type=float, default=10.0, help="seconds of load per step of the ramp")
    parser.add_argument("--warm-up", type=float, default=3.0, help="seconds of load before each ramp")
    parser.add_argument("--poll-ms", type=float, default=10.0, help="pause between two GETs of a group")
    args = parser.parse_args()
    if not os.environ.get("COHORT_DATABASE_URL", "").startswith("postgres"):
        sys.exit("set COHORT_DATABASE_URL to a PostgreSQL server: processes share it as production's do")

    from cryptography.fernet import Fernet

    base = Path(tempfile.mkdtemp(prefix="cohort-bench-workers-"))
    os.environ["COHORT_HOME"] = str(base / "bench")
    os.environ["COHORT_CREDENTIALS_KEY"] = Fernet.generate_key().decode()
    os.environ["COHORT_SECRET_KEY"] = uuid.uuid4().hex * 2
    from bench.fresh_database import fresh_database

    fresh_database(args.database)
    if args.broker.startswith("redis"):
        import redis

        redis.Redis.from_url(args.broker).flushdb()
    labs = []
    if "labs" in args.cloud:
        import cohort_lab

        labs = [cohort_lab.start_lab(), cohort_lab.start_lab()]
    cohort = None
    try:
        token, tenants = records(labs)
        env = {key: value for key, value in os.environ.items() if not key.startswith("COHORT_")}
        env.update(
            DJANGO_SETTINGS_MODULE="cohort.settings",
            PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
            COHORT_DATABASE_URL=os.environ["COHORT_DATABASE_URL"],
            COHORT_BROKER_URL=args.broker,
            COHORT_CREDENTIALS_KEY=os.environ["COHORT_CREDENTIALS_KEY"],
            COHORT_SECRET_KEY=os.environ["COHORT_SECRET_KEY"],
            COHORT_LOG_LEVEL="INFO",
        )
        results: dict[tuple[str, int], list[Step]] = {}
        for cloud in args.cloud:
            driver = MEMORY_DRIVER if cloud == "memory" else OPENSTACK_DRIVER
            cohort = Cohort({**env, "COHORT_CLOUD_DRIVER": driver}, base)
            port = free_port()
            web = cohort.start("web", ["--bind", f"127.0.0.1:{port}", "--workers", "2"], f"web-{cloud}")
            api = f"http://127.0.0.1:{port}/api"
            try:
                wait_for_web(api, {"Authorization": f"Token {token}"})
                roots = {"web": [web.pid], "labs": [lab.process.pid for lab in labs] if cloud == "labs" else []}
                for workers in args.workers:
                    steps = run_config(cohort, cloud, workers, args, api, token, tenants[cloud], roots)
                    results[(cloud, workers)] = steps
            finally:
                cohort.stop(list(cohort.processes))
        print(f"\nbroker {args.broker.split('://')[0]}, PostgreSQL database {args.database}, web: 2 gunicorn workers; "
              f"each worker `cohort worker --concurrency 1`; each process's output is kept under {base}\n")  # fmt: skip
        print(tables(results, args.at_clients, args.poll_ms))
    finally:
        if cohort is not None:
            cohort.stop(list(cohort.processes))
        for lab in labs:
            lab.stop()


if __name__ == "__main__":
    main()
