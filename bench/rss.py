"""Benchmark: the memory of `cohort serve`'s processes under a long mixed load.

    .venv/bin/python bench/rss.py [--requests 10000] [--tasks 10000] [--threads 4] [--lab]

Starts `cohort serve` (the in-memory cloud, or the lab with `--lab`) as `bench/mixed_load.py` does,
then runs its load in rounds of `--round` seconds: first the portal's mix until `--requests` requests
have been answered, then a write-heavy mix (creates and deletes, each a task for the worker) until the
worker has run `--tasks` tasks. After every round it reads the resident set size (RSS) of each process
serve started (gunicorn's workers, the Celery worker and its pool children, beat) and prints a row.

It fails (exit 1) if a gunicorn worker ends above `--web-limit` MB (150), if the Celery worker's
processes grew by more than `--flat` MB (10) over the second half of the task rounds (memory that
keeps growing with the number of tasks is a leak; what is reached in the first rounds is warm-up), or
if the load itself failed (a 5xx, a lost record, a record that did not settle).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import mixed_load  # noqa: E402

PORTAL_MIX = dict(mixed_load.MIX)
WRITE_MIX = {"list": 5, "get": 15, "create": 40, "delete": 40}
TASK_DONE = re.compile(r"Task cohort\.\S+\[[0-9a-f-]+\] succeeded")


def role(process: psutil.Process) -> str:
    """What a process of serve is, from its command line (setproctitle rewrites some of them)."""
    try:
        command = " ".join(process.cmdline())
        parent = process.parent()
        parent_command = " ".join(parent.cmdline()) if parent else ""
    except psutil.Error:
        return ""
    if "gunicorn" in command:
        return "gunicorn worker" if "gunicorn" in parent_command else "gunicorn master"
    if "beat" in command:
        return "celery beat"
    if "celery" in command or "celeryd" in command:
        return "celery pool child" if ("celery" in parent_command or "celeryd" in parent_command) else "celery worker"
    if "cohort_lab" in command:
        return ""  # the lab is Nova's memory, not Cohort's
    return ""


def sample(serve: mixed_load.Serve) -> dict[str, list[float]]:
    """RSS in MB of each process serve started, by role."""
    rss: dict[str, list[float]] = {}
    for process in psutil.Process(serve.process.pid).children(recursive=True):
        name = role(process)
        if name:
            try:
                rss.setdefault(name, []).append(process.memory_info().rss / 2**20)
            except psutil.Error:
                pass
    return rss


def clear(serve: mixed_load.Serve, timeout: float = 120.0) -> None:
    """Delete every group the load left (its clients keep at most `MAX_GROUPS` each round, and the
    demo tenant's quota counts what a round leaves), and wait until they are gone."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=serve.api, headers=serve.headers, timeout=30) as http:
        while time.monotonic() < deadline:
            groups = http.get("/openstack-server-groups/", params={"page_size": 200, "field": ["uuid", "state"]})
            groups.raise_for_status()
            if not groups.json():
                return
            for group in groups.json():
                if group["state"] in ("OK", "ERRED"):
                    http.delete(f"/openstack-server-groups/{group['uuid']}/")
            time.sleep(0.5)
    raise RuntimeError("the groups of the load were not all deleted in time")


def tasks_done(serve: mixed_load.Serve) -> int:
    return sum(1 for line in serve.lines if TASK_DONE.search(line))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000, help="requests of the portal's mix (10,000)")
    parser.add_argument("--tasks", type=int, default=10_000, help="worker tasks of the write-heavy mix (10,000)")
    parser.add_argument("--threads", type=int, default=4, help="client threads (4)")
    parser.add_argument("--round", type=float, default=20.0, help="seconds per round (20)")
    parser.add_argument("--web-limit", type=float, default=150.0, help="MB a gunicorn worker may end at (150)")
    parser.add_argument("--flat", type=float, default=10.0, help="MB the worker may grow in the second half (10)")
    parser.add_argument("--lab", action="store_true", help="against the lab's real Nova")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="cohort-rss-"))
    print(f"starting cohort serve ({'the lab' if args.lab else 'in-memory cloud'}), COHORT_HOME={home}", flush=True)
    serve = mixed_load.Serve.start(home, lab=args.lab)
    failed, rows = False, []
    roles = ("gunicorn worker", "celery worker", "celery pool child", "celery beat")
    header = f"{'phase':<8}{'requests':>10}{'tasks':>8}  " + "  ".join(f"{name + ' MB':>22}" for name in roles)
    try:
        print(header, flush=True)

        def row(phase: str, requests: int) -> None:
            rss = sample(serve)
            rows.append((phase, requests, tasks_done(serve), rss))
            cells = "  ".join(
                f"{' '.join(f'{mb:.0f}' for mb in sorted(rss.get(name, []))) or '-':>22}" for name in roles
            )
            print(f"{phase:<8}{requests:>10}{tasks_done(serve):>8}  {cells}", flush=True)

        row("start", 0)
        requests = 0
        for phase, mix in (("portal", PORTAL_MIX), ("writes", WRITE_MIX)):
            mixed_load.MIX.clear()
            mixed_load.MIX.update(mix)
            while (requests < args.requests) if phase == "portal" else (tasks_done(serve) < args.tasks):
                outcome = mixed_load.measure(serve, duration=args.round, threads=args.threads, seed=requests)
                requests += sum(stats.requests for stats in outcome.stats.values())
                if not outcome.ok:
                    failed = True
                    mixed_load.report(outcome)
                    break
                clear(serve)
                row(phase, requests)
            if failed:
                break
    finally:
        serve.stop()

    web_end = max((mb for mb in rows[-1][3].get("gunicorn worker", [])), default=0.0)
    writes = [r for r in rows if r[0] == "writes"]
    half = writes[len(writes) // 2 :] if len(writes) >= 2 else writes

    def worker_total(rss: dict[str, list[float]]) -> float:
        return sum(rss.get("celery worker", [])) + sum(rss.get("celery pool child", []))

    growth = worker_total(half[-1][3]) - worker_total(half[0][3]) if half else 0.0
    print(f"\ngunicorn workers at the end: max {web_end:.0f} MB (limit {args.web_limit:.0f})")
    print(f"Celery worker and pool over the second half of the task rounds: {growth:+.1f} MB (limit {args.flat:.0f})")
    ok = not failed and web_end <= args.web_limit and growth <= args.flat
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
