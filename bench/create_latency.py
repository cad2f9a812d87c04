"""Benchmark: how long a created server group takes to show `OK`, next to Nova's own create call.

    .venv/bin/python bench/create_latency.py [--samples 20] [--broker redis://127.0.0.1:6379/14 | amqp://...]
    .venv/bin/python bench/create_latency.py --api URL/api --token TOKEN --tenant UUID [--clouds-yaml FILE]

Starts `cohort serve` with the lab (a real Keystone and Nova on 127.0.0.1) on a free port, with a fresh
COHORT_HOME and none of the caller's COHORT_* variables; `--broker` gives it a broker URL (the default is
the embedded file-system broker; Redis and RabbitMQ are emptied of what an earlier run left), `--memory`
the in-memory cloud instead of the lab. Or, with `--api`, `--token` and `--tenant`, it measures a Cohort
that is already running.

Then, one at a time, it creates a group through the tenant's `create_server_group` action and polls the
group (`?field=state`) every `--poll-ms` until it shows `OK`: the time from sending the POST to the answer
that showed `OK` is one sample. Before each, it times the same create straight against the lab's Nova, as
the demo tenant's user (`clouds.yaml` of the lab), and deletes that group again. It prints p50, min and
max of both as a markdown table, with the ratio of the p50s (and the same ratio to the row's move to OK,
which leaves the client's polling out), and the time of each part of Cohort's samples as the worker logged it.
With `--idle SECONDS` it then leaves everything idle and reports the CPU time the Celery worker's
processes (and all of serve's) used meanwhile, from /proc.

Nothing here asserts a figure: it is a measurement for the README, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from bench.mixed_load import Serve  # noqa: E402

POLICY = "anti-affinity"
WARM_UP = 4  # creates before the samples: serve's worker has 3 pool processes, each logs in to Keystone once
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Lines of the worker's log that mark the parts of one create (asctime: "2026-12-01 02:10:00,123").
STAMP = r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) "
MARKS = {
    "received": re.compile(STAMP + r".*Task cohort\.openstack\.tasks\.advance_server_group\[\S+\] received"),
    "step": re.compile(STAMP + r".*server group \d+: create \("),
    "done": re.compile(STAMP + r".*Task cohort\.openstack\.tasks\.advance_server_group\[\S+\] succeeded"),
}


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    return statistics.median(samples), min(samples), max(samples)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


class Nova:
    """The lab's Nova as the demo tenant's user sees it, through Cohort's own driver."""

    def __init__(self, clouds_yaml: Path):
        from cohort.cloud.base import CloudAccess
        from cohort.cloud.openstack import OpenStackDriver

        cloud = next(iter(json.loads(clouds_yaml.read_text())["clouds"].values()))
        credentials = {key: cloud["auth"][key] for key in ("username", "password", "user_domain_name")}
        access = CloudAccess(
            auth_url=cloud["auth"]["auth_url"],
            project_id=cloud["auth"]["project_id"],
            credentials=credentials,
            region=cloud.get("region_name", ""),
        )
        self.driver = OpenStackDriver(access)
        self.create("warm-up")  # the login and the version discovery are not part of a create

    def create(self, name: str) -> float:
        started = time.perf_counter()
        group = self.driver.create_server_group(name=name, policy=POLICY)
        took = time.perf_counter() - started
        self.driver.delete_server_group(group.id)
        return took


def create_to_ok(http: httpx.Client, tenant: str, name: str, poll: float) -> dict:
    """Seconds from sending the create to its answer (`post`), to the answer that showed OK (`ok`) and,
    by the server's clock, to the move to OK (`moved`: the group's `modified`); the group's `uuid`."""
    wall, started = time.time(), time.perf_counter()
    body = {"name": name, "policy": POLICY}
    response = http.post(f"/openstack-tenants/{tenant}/create_server_group/?field=uuid", json=body)
    answered = time.perf_counter() - started
    response.raise_for_status()
    uuid = response.json()["uuid"]
    while True:
        group = http.get(f"/openstack-server-groups/{uuid}/?field=state&field=modified").json()
        if group["state"] == "OK":
            ok = time.perf_counter() - started
            moved = datetime.fromisoformat(group["modified"].replace("Z", "+00:00")).timestamp() - wall
            return {"post": answered, "ok": ok, "moved": moved, "uuid": uuid, "wall": wall}
        if group["state"] == "ERRED":
            raise RuntimeError(f"group {uuid} went ERRED")
        time.sleep(poll)


def delete_all(http: httpx.Client, uuids: list[str], timeout: float = 120) -> None:
    for uuid in uuids:
        http.delete(f"/openstack-server-groups/{uuid}/")
    deadline = time.monotonic() + timeout
    for uuid in uuids:
        while http.get(f"/openstack-server-groups/{uuid}/?field=state").status_code != 404:
            if time.monotonic() > deadline:
                print(f"group {uuid} was not deleted within {timeout} s", file=sys.stderr)
                return
            time.sleep(0.05)


def parts(lines: list[str], started: float) -> dict[str, float] | None:
    """Seconds from `started` (the POST, wall clock) to each mark of the worker's log in `lines`."""
    found = {}
    for line in lines:
        for mark, pattern in MARKS.items():
            if mark not in found and (match := pattern.search(line)):
                found[mark] = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp() - started
    return found if len(found) == len(MARKS) else None


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as file:
                fields = file.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def tree(pid: int) -> dict[int, str]:
    """`pid` and its descendants, with their command lines."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as file:
                    parents[int(entry)] = int(file.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{entry}/cmdline", "rb") as file:
                    commands[int(entry)] = file.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
    found, todo = {pid: commands.get(pid, "")}, [pid]
    while todo:
        parent = todo.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                found[child] = commands.get(child, "")
                todo.append(child)
    return found


def idle_cpu(serve: Serve, seconds: float) -> tuple[float, float]:
    """CPU seconds used over `seconds` of idling by the Celery worker's processes, and by all of serve's."""
    everything = tree(serve.process.pid)
    worker_main = next(pid for pid, command in everything.items() if "celery" in command and " worker " in command)
    worker = list(tree(worker_main))
    before_worker, before_all = cpu_seconds(worker), cpu_seconds(list(everything))
    time.sleep(seconds)
    return cpu_seconds(worker) - before_worker, cpu_seconds(list(everything)) - before_all


def measure(
    http: httpx.Client, tenant: str, samples: int, poll: float, nova: Nova | None, log: Callable[[], list[str]]
) -> dict[str, list]:
    run = f"{int(time.time()) % 100000}"
    results: dict[str, list] = {"ok": [], "post": [], "moved": [], "nova": [], "parts": []}
    made = []
    for number in range(WARM_UP):  # the first message declares the queues; each pool process logs in
        made.append(create_to_ok(http, tenant, f"latency-{run}-warm-up-{number}", poll)["uuid"])
    for number in range(samples):
        if nova is not None:
            results["nova"].append(nova.create(f"latency-{run}-nova-{number}"))
        time.sleep(0.3)  # the worker is back in its wait, as it is between real requests
        first_line = len(log())
        sample = create_to_ok(http, tenant, f"latency-{run}-{number}", poll)
        for key in ("ok", "post", "moved"):
            results[key].append(sample[key])
        made.append(sample["uuid"])
        time.sleep(0.2)  # the worker has logged the task's end
        if (found := parts(log()[first_line:], sample["wall"])) is not None:
            results["parts"].append(found)
    delete_all(http, made)
    return results


def table(results: dict[str, list], broker: str, poll_ms: float) -> str:
    rows = ["| what | p50 | min | max | samples |", "|---|---:|---:|---:|---:|"]

    def row(name: str, samples: list[float]) -> str:
        return f"| {name} | " + " | ".join(map(ms, percentiles(samples))) + f" | {len(samples)} |"

    cohort = percentiles(results["ok"])
    rows.append(row(f"Cohort ({broker}): POST to the first GET showing OK (a GET every {poll_ms:g} ms)", results["ok"]))
    rows.append(row("of which: the POST's answer", results["post"]))
    rows.append(row("of which: POST to the row's move to OK (its `modified`)", results["moved"]))
    if results["nova"]:
        nova = percentiles(results["nova"])
        rows.append("| Nova's own create call | " + " | ".join(map(ms, nova)) + f" | {len(results['nova'])} |")
        rows.append(f"| ratio of the p50s | {cohort[0] / nova[0]:.2f}x | | | |")
        moved = percentiles(results["moved"])
        rows.append(f"| ratio of the p50s, to the row's move to OK (no polling) | {moved[0] / nova[0]:.2f}x | | | |")
    return "\n".join(rows)


def parts_table(found: list[dict[str, float]]) -> str:
    if not found:
        return "(the worker's log showed no marks: are its lines in serve's output?)"
    rows = ["| from the POST to (worker's log, ms resolution) | p50 | min | max |", "|---|---:|---:|---:|"]
    names = {"received": "the worker has the message", "step": "the step starts", "done": "the task is done"}
    for mark, name in names.items():
        rows.append(f"| {name} | " + " | ".join(map(ms, percentiles([part[mark] for part in found]))) + " |")
    return "\n".join(rows)


def broker_name(url: str) -> str:
    if url.startswith("redis"):
        return "Redis"
    if url.startswith(("amqp", "pyamqp")):
        return "RabbitMQ"
    return url or "file-system broker"


def forget_earlier_messages(url: str) -> None:
    """The run's messages only: whatever an earlier run left on the broker is dropped (a Redis
    database is emptied; on RabbitMQ, Celery's queue in the URL's virtual host is purged)."""
    if url.startswith("redis"):
        import redis

        redis.Redis.from_url(url).flushdb()
    elif url.startswith(("amqp", "pyamqp")):
        from kombu import Connection
        from kombu.exceptions import OperationalError

        with Connection(url) as connection:
            try:
                connection.default_channel.queue_purge("celery")
            except (OperationalError, *connection.channel_errors):
                pass  # no queue yet: nothing to drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--poll-ms", type=float, default=5.0, help="pause between two GETs of the group")
    parser.add_argument("--broker", default="", help="COHORT_BROKER_URL for serve (default: the file-system broker)")
    parser.add_argument("--memory", action="store_true", help="serve on the in-memory cloud (no Nova figures)")
    parser.add_argument(
        "--idle", type=float, default=0, help="then measure the worker's CPU over this many idle seconds"
    )
    parser.add_argument("--log", type=Path, help="write serve's output to this file")
    parser.add_argument("--api", help="measure a running Cohort: its API root (http://HOST:PORT/api)")
    parser.add_argument("--token", help="with --api: a token that may create in --tenant")
    parser.add_argument("--tenant", help="with --api: the tenant's uuid")
    parser.add_argument("--clouds-yaml", type=Path, help="with --api: the lab's clouds.yaml, for Nova's figures")
    args = parser.parse_args()
    poll = args.poll_ms / 1000
    load = os.getloadavg()

    if args.api:
        nova = Nova(args.clouds_yaml) if args.clouds_yaml else None
        with httpx.Client(base_url=args.api, headers={"Authorization": f"Token {args.token}"}, timeout=30) as http:
            results = measure(http, args.tenant, args.samples, poll, nova, list)
        print(table(results, "running Cohort", args.poll_ms))
        return

    env = {"PYTHONPATH": str(ROOT / "src"), "COHORT_LOG_LEVEL": "INFO"}
    if args.broker:
        env["COHORT_BROKER_URL"] = args.broker
    broker = broker_name(args.broker)
    forget_earlier_messages(args.broker)
    with tempfile.TemporaryDirectory(prefix="cohort-latency-") as home:
        serve = Serve.start(Path(home), lab=not args.memory, env=env)
        try:
            nova = None if args.memory else Nova(Path(home) / "lab" / "clouds.yaml")
            with httpx.Client(base_url=serve.api, headers=serve.headers, timeout=30) as http:
                results = measure(http, serve.tenant, args.samples, poll, nova, lambda: serve.lines)
            idle = idle_cpu(serve, args.idle) if args.idle else None
        finally:
            serve.stop()
            if args.log:
                args.log.write_text(serve.output())
    print(f"\nload average at the start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; at the end: "
          + " ".join(f"{value:.2f}" for value in os.getloadavg()))  # fmt: skip
    print()
    print(table(results, broker, args.poll_ms))
    print()
    print(parts_table(results["parts"]))
    if idle is not None:
        worker, everything = idle[0] / args.idle, idle[1] / args.idle
        print(f"\nidle {args.idle:.0f} s: the Celery worker's processes used {idle[0]:.2f} s of CPU ({worker:.1%} "
              f"of a core); all of serve's (with the lab's) {idle[1]:.2f} s ({everything:.1%})")  # fmt: skip


if __name__ == "__main__":
    main()
