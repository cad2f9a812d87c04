"""Benchmark: a mixed load on `cohort serve`, then every record must settle.

    .venv/bin/python bench/mixed_load.py [--duration 60] [--threads 8] [--lab]

Starts `cohort serve` as a user runs it (the in-memory cloud, or the lab's real Nova with `--lab`) on
a free port of 127.0.0.1, with a fresh COHORT_HOME and none of the caller's COHORT_* variables, and
waits until its API answers and its worker is ready. Then `--threads` clients, each with its own
keep-alive connection, loop for `--duration` seconds over a portal's mix (`MIX`): mostly reads (a page
of the tenant's groups, one of its own groups), some creates (half through the tenant action, half on
the collection) and deletes of its own groups once it has seen them settle. The tenant never holds
more than `MAX_GROUPS` groups, so the cloud's quota is not what is measured.

When the time is up it stops sending and polls the API until no record is left in a transitional
state, then checks every record the clients touched: a group created and never deleted must still be
there (else it was lost); a group whose delete was accepted must be gone. It prints requests, status
codes, 5xx, connection errors and latency (p50, p95) per operation, the settle time, the final states,
and what serve logged that deserves a look (tracebacks, "database is locked", a child that exited).
The exit status is 1 if any request got a 5xx or no answer, or a record did not settle, went ERRED,
was lost, or was not deleted. Load stays on loopback and is bounded by `--duration` and `--threads`.

The functions are importable: `tests/test_serve.py` runs the same load for a few seconds.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

TRANSITIONAL = ("CREATION_SCHEDULED", "CREATING", "UPDATE_SCHEDULED", "UPDATING", "DELETION_SCHEDULED", "DELETING")
POLICIES = ("affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity")
# The mix of one client's requests, by weight: what a portal does, mostly reading.
MIX = {"list": 40, "get": 30, "create": 15, "delete": 15}
SETTLED = ("OK", "ERRED")
MAX_GROUPS = 8  # groups in the tenant at once, under the in-memory Nova's default quota of 10
REQUEST_TIMEOUT = 30.0
# Lines of serve's output worth a look after a run.
LOG_PROBLEMS = re.compile(r"Traceback|database is locked|exited with code|CRITICAL|\bERROR\b")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_environment(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without its COHORT_* variables, on `home`, plus `extra`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("COHORT_")}
    env.update(COHORT_HOME=str(home), DJANGO_SETTINGS_MODULE="cohort.settings", **(extra or {}))
    return env


class Serve:
    """A running `cohort serve`: its process, its output (drained by a thread, so a full pipe never
    blocks it), and what its banner said (API root, admin token, demo tenant)."""

    def __init__(self, process: subprocess.Popen, home: Path, port: int):
        self.process, self.home, self.port = process, home, port
        self.api = f"http://127.0.0.1:{port}/api"
        self.lines: list[str] = []
        self.token = self.tenant = ""
        self._banner = threading.Event()
        self._reader = threading.Thread(target=self._read, name="serve-output", daemon=True)
        self._reader.start()

    @classmethod
    def start(cls, home: Path, *, lab: bool = False, env: dict[str, str] | None = None, timeout: float = 300) -> Serve:
        """Start serve on a free port and return once its API answers and its worker is ready."""
        port = free_port()
        # --verbose: the children's output on serve's own, where the callers read their log lines
        command = [sys.executable, "-m", "cohort.cli", "serve", "--bind", f"127.0.0.1:{port}", "--verbose"]
        if not lab:
            command.append("--memory")
        process = subprocess.Popen(
            command,
            env=serve_environment(home, env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # like a shell job: Ctrl-C is a SIGINT to this group
        )
        serve = cls(process, home, port)
        try:
            serve._await_ready(timeout)
        except BaseException:
            serve.stop(signal.SIGKILL)
            raise
        return serve

    def _read(self) -> None:
        with open(self.home / "serve.log", "a") as log:
            for line in self.process.stdout:
                self.lines.append(line)
                log.write(line)
                if line.startswith("Admin token:"):
                    self.token = line.split()[-1]
                elif line.startswith("Demo tenant:"):
                    self.tenant = line.split()[-1]
                    self._banner.set()
        self._banner.set()  # serve exited: nobody should wait for a banner any more

    def _await_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        if not self._banner.wait(timeout) or not self.tenant:
            raise RuntimeError(f"cohort serve printed no banner:\n{self.output()}")
        self.wait_for_log(r"celery@\S+ ready", deadline - time.monotonic())
        with httpx.Client(headers=self.headers, timeout=5) as client:
            while True:
                try:
                    if client.get(f"{self.api}/openstack-server-groups/?page_size=1").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"cohort serve did not answer:\n{self.output()}")
                time.sleep(0.2)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}

    def output(self) -> str:
        return "".join(self.lines)

    def wait_for_log(self, pattern: str, timeout: float, start: int = 0) -> re.Match:
        """The first match of `pattern` in serve's output lines from line `start` on, waiting for it."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            for line in self.lines[start:]:
                if match := regex.search(line):
                    return match
            if time.monotonic() > deadline or not self._reader.is_alive():
                raise RuntimeError(f"cohort serve never logged {pattern!r}:\n{self.output()[-5000:]}")
            time.sleep(0.1)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 60) -> int:
        """Send `signum` to serve and wait for it (SIGKILL after `timeout`); returns its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(10)
        return self.process.returncode


# --- the load ---------------------------------------------------------------------------------------


@dataclass
class Stats:
    """What one operation got: status codes, transport errors and latencies (seconds)."""

    codes: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    def merge(self, other: Stats) -> None:
        self.codes.update(other.codes)
        self.errors.update(other.errors)
        self.latencies.extend(other.latencies)

    @property
    def requests(self) -> int:
        return sum(self.codes.values()) + sum(self.errors.values())

    @property
    def server_errors(self) -> int:
        return sum(count for code, count in self.codes.items() if code >= 500)

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0


@dataclass
class Client:
    """One client thread: its connection, the groups it made, what it saw.

    It deletes only groups it has seen settled (a portal greys the button out otherwise), and takes a
    slot of the shared `budget` for each group until it has seen that group gone, so the tenant never
    holds more than `MAX_GROUPS` groups and the cloud's quota is not what the run measures."""

    serve: Serve
    number: int
    run_id: str
    seed: int
    budget: threading.Semaphore
    stats: dict[str, Stats] = field(default_factory=lambda: {op: Stats() for op in MIX})
    live: dict[str, str] = field(default_factory=dict)  # made and not deleted: uuid -> state last seen
    deleting: list[str] = field(default_factory=list)  # delete accepted, not yet seen gone
    created: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)
    names: int = 0

    def run(self, until: float) -> None:
        rng = random.Random(self.seed)
        operations, weights = list(MIX), list(MIX.values())
        actions = {"list": self.list_groups, "get": self.get_group, "create": self.create, "delete": self.delete}
        with httpx.Client(base_url=self.serve.api, headers=self.serve.headers, timeout=REQUEST_TIMEOUT) as http:
            while time.monotonic() < until:
                actions[rng.choices(operations, weights)[0]](http, rng)

    def request(self, op: str, http: httpx.Client, method: str, path: str, **kwargs) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = http.request(method, path, **kwargs)
        except httpx.TransportError as error:
            self.stats[op].errors[type(error).__name__] += 1
            return None
        self.stats[op].latencies.append(time.perf_counter() - started)
        self.stats[op].codes[response.status_code] += 1
        return response

    def list_groups(self, http: httpx.Client, rng: random.Random) -> None:
        query = {"tenant_uuid": self.serve.tenant, "page_size": 25}
        if rng.random() < 0.3:
            query["state"] = "OK"
        self.request("list", http, "GET", "/openstack-server-groups/", params=query)

    def get_group(self, http: httpx.Client, rng: random.Random) -> None:
        known = [*self.live, *self.deleting]
        if not known:
            return self.list_groups(http, rng)
        uuid = rng.choice(known)
        response = self.request("get", http, "GET", f"/openstack-server-groups/{uuid}/")
        if response is None:
            return
        if response.status_code == 200 and uuid in self.live:
            self.live[uuid] = response.json()["state"]
        elif response.status_code == 404 and uuid in self.deleting:
            self.deleting.remove(uuid)
            self.budget.release()

    def create(self, http: httpx.Client, rng: random.Random) -> None:
        if not self.budget.acquire(blocking=False):
            return self.get_group(http, rng)
        self.names += 1
        body = {"name": f"load-{self.run_id}-{self.number}-{self.names}", "policy": rng.choice(POLICIES)}
        if rng.random() < 0.5:
            path = f"/openstack-tenants/{self.serve.tenant}/create_server_group/"
        else:
            path, body["tenant"] = "/openstack-server-groups/", self.serve.tenant
        response = self.request("create", http, "POST", path, json=body)
        if response is None or response.status_code != 201:
            self.budget.release()  # nothing was made (a lost answer is not expected, and counted)
            return
        group = response.json()
        self.live[group["uuid"]] = group["state"]
        self.created.add(group["uuid"])

    def delete(self, http: httpx.Client, rng: random.Random) -> None:
        settled = [uuid for uuid, state in self.live.items() if state in SETTLED]
        if not settled:
            return self.get_group(http, rng)
        uuid = settled[0]
        response = self.request("delete", http, "DELETE", f"/openstack-server-groups/{uuid}/")
        if response is not None and response.status_code == 204:
            del self.live[uuid]
            self.deleting.append(uuid)
            self.deleted.add(uuid)


def run_load(serve: Serve, *, duration: float, threads: int, seed: int = 0) -> list[Client]:
    """`threads` clients on `serve` for `duration` seconds; returns them once all have stopped."""
    run_id = f"{int(time.time()) % 100000}"
    budget = threading.Semaphore(MAX_GROUPS)
    clients = [Client(serve, number, run_id, seed * 1000 + number, budget) for number in range(threads)]
    until = time.monotonic() + duration
    workers = [
        threading.Thread(target=client.run, args=(until,), name=f"client-{c}") for c, client in enumerate(clients)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return clients


def transitional_count(http: httpx.Client) -> int:
    response = http.head("/openstack-server-groups/", params=[("state", state) for state in TRANSITIONAL])
    response.raise_for_status()
    return int(response.headers["X-Result-Count"])


def wait_settled(serve: Serve, timeout: float) -> tuple[int, float]:
    """Poll until no record is in a transitional state; returns (records left, seconds waited)."""
    started = time.monotonic()
    with httpx.Client(base_url=serve.api, headers=serve.headers, timeout=REQUEST_TIMEOUT) as http:
        while (left := transitional_count(http)) and time.monotonic() - started < timeout:
            time.sleep(0.25)
    return left, time.monotonic() - started


def all_groups(serve: Serve) -> dict[str, dict]:
    """Every server group, by uuid, with its state and error message."""
    groups, page = {}, 1
    fields = [("field", "uuid"), ("field", "state"), ("field", "error_message")]
    with httpx.Client(base_url=serve.api, headers=serve.headers, timeout=REQUEST_TIMEOUT) as http:
        while True:
            params = [*fields, ("page_size", "300"), ("page", str(page))]
            response = http.get("/openstack-server-groups/", params=params)
            if response.status_code == 404 and page > 1:  # past the last page
                return groups
            response.raise_for_status()
            groups.update({group["uuid"]: group for group in response.json()})
            if 'rel="next"' not in response.headers.get("Link", ""):
                return groups
            page += 1


@dataclass
class Outcome:
    stats: dict[str, Stats]
    duration: float
    unsettled: int
    settle_seconds: float
    states: Counter
    erred: Counter  # error message -> records
    lost: list[str]  # created, never deleted, gone
    not_deleted: list[str]  # delete accepted, still there
    log_problems: list[str]

    @property
    def ok(self) -> bool:
        return not (
            sum(s.server_errors for s in self.stats.values())
            or sum(sum(s.errors.values()) for s in self.stats.values())
            or self.unsettled
            or self.states["ERRED"]
            or self.lost
            or self.not_deleted
        )


def measure(serve: Serve, *, duration: float, threads: int, settle_timeout: float = 120, seed: int = 0) -> Outcome:
    """Run the load, wait for the records to settle, and check what became of each one."""
    log_start = len(serve.lines)
    clients = run_load(serve, duration=duration, threads=threads, seed=seed)
    unsettled, settle_seconds = wait_settled(serve, settle_timeout)
    groups = all_groups(serve)
    stats = {op: Stats() for op in MIX}
    for client in clients:
        for op, seen in client.stats.items():
            stats[op].merge(seen)
    created = set().union(*(c.created for c in clients))
    deleted = set().union(*(c.deleted for c in clients))
    return Outcome(
        stats=stats,
        duration=duration,
        unsettled=unsettled,
        settle_seconds=settle_seconds,
        states=Counter(group["state"] for group in groups.values()),
        erred=Counter(g["error_message"] for g in groups.values() if g["state"] == "ERRED"),
        lost=sorted(created - deleted - set(groups)),
        not_deleted=sorted(uuid for uuid in deleted & set(groups) if groups[uuid]["state"] != "ERRED"),
        log_problems=[line.rstrip() for line in serve.lines[log_start:] if LOG_PROBLEMS.search(line)],
    )


def report(outcome: Outcome, write: Callable[[str], None] = print) -> None:
    header = f"{'operation':<10}{'requests':>9}{'req/s':>8}{'5xx':>6}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}  codes"
    write(header)
    write("-" * len(header))
    total = Stats()
    for op, stats in [*outcome.stats.items(), ("all", total)]:
        if op != "all":
            total.merge(stats)
        codes = " ".join(f"{code}:{n}" for code, n in sorted(stats.codes.items()))
        errors = sum(stats.errors.values())
        write(
            f"{op:<10}{stats.requests:>9}{stats.requests / outcome.duration:>8.1f}{stats.server_errors:>6}"
            f"{errors:>8}{stats.percentile(50) * 1000:>9.0f}{stats.percentile(95) * 1000:>9.0f}  {codes}"
        )
    if total.errors:
        write(f"connection errors: {dict(total.errors)}")
    settled = "all settled" if not outcome.unsettled else f"{outcome.unsettled} STILL TRANSITIONAL"
    write(f"\nsettle: {settled} {outcome.settle_seconds:.1f} s after the load stopped")
    write(f"records left: {dict(sorted(outcome.states.items())) or 'none'}")
    for message, count in outcome.erred.most_common(5):
        write(f"  ERRED x{count}: {message[:150]}")
    write(f"lost (created, never deleted, gone): {len(outcome.lost)}  {_sample(outcome.lost)}")
    write(f"delete accepted but record still there: {len(outcome.not_deleted)}  {_sample(outcome.not_deleted)}")
    write(f"serve log lines worth a look: {len(outcome.log_problems)}")
    for line in outcome.log_problems[:10]:
        write(f"  {line[:200]}")
    write(f"\n{'PASS' if outcome.ok else 'FAIL'}")


def _sample(items: Iterable[str]) -> str:
    items = list(items)
    return " ".join(items[:3]) + (" ..." if len(items) > 3 else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument("--threads", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--lab", action="store_true", help="against the lab's real Nova, not the in-memory cloud")
    parser.add_argument("--settle-timeout", type=float, default=120.0, help="seconds to wait for records to settle")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="cohort-load-"))
    print(f"starting cohort serve ({'the lab' if args.lab else 'in-memory cloud'}), COHORT_HOME={home}", flush=True)
    serve = Serve.start(home, lab=args.lab)
    try:
        print(f"{args.threads} threads for {args.duration:.0f} s on {serve.api}/ ...", flush=True)
        outcome = measure(serve, duration=args.duration, threads=args.threads,
                          settle_timeout=args.settle_timeout, seed=args.seed)  # fmt: skip
    finally:
        code = serve.stop()
    print()
    report(outcome)
    print(f"(serve exited with {code}; its output is in {home / 'serve.log'})")
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
