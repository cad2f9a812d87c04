"""Benchmark: the placement report of a page of 50 groups that each need a plan, with and without the plan.

    .venv/bin/python bench/placement_report.py [--groups 1000] [--page 50] [--reps 20] [--rounds 9]

Builds a fresh database (SQLite under a temporary COHORT_HOME, or the PostgreSQL of
COHORT_DATABASE_URL, in the database `--database`, cohort_bench_placement unless told) with
`--groups` groups of four members each, every one broken (anti-affinity with two members on a host,
max_server_per_host 2 with three, soft-anti-affinity, affinity and soft-affinity over several hosts)
on an in-memory cloud of eight hosts, one disabled, whose credentials may list them (so the plans
are checked against the enabled hosts, a sixth of them blocked, and staff see names). It then
times `placement_reports` (what `GET .../placement/` and the page at /ui/ call) for one page of
`--page` of them, as staff, in `--rounds` interleaved turns of `--reps` reports each: once as it
is, and once with `plan` replaced by a function that plans nothing, which is the report as it was
before plans (same run, same groups, same query; the member query's extra `created` column is in
both). It prints the median time of a page each way, their ratio (the target: within 2x), and the
SQL queries of a report of one group and of the page (which must be equal; the exit status says so).
"""

import argparse
import logging
import os
import statistics
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--groups", type=int, default=1000)
parser.add_argument("--page", type=int, default=50)
parser.add_argument("--reps", type=int, default=20, help="reports of the page per turn")
parser.add_argument("--rounds", type=int, default=9, help="turns of each, interleaved")
parser.add_argument("--database", default="cohort_bench_placement", help="the PostgreSQL database to (re)build")
args = parser.parse_args()

os.environ["COHORT_CLOUD_DRIVER"] = "cohort.cloud.memory.MemoryDriver"
from fresh_database import fresh_database  # noqa: E402

fresh_database(args.database)

from datetime import timedelta  # noqa: E402

from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from cohort.cloud import ComputeHost  # noqa: E402
from cohort.cloud.memory import MemoryCloud  # noqa: E402
from cohort.openstack import placement  # noqa: E402
from cohort.openstack.models import Instance, ServerGroup, Tenant  # noqa: E402
from cohort.structure.models import Customer, Project, ServiceSettings  # noqa: E402

AUTH_URL = "memory://bench-placement"
HOSTS = [f"host{n}" for n in range(1, 9)]
# (policy, rules, the hosts of its four members): each breaks its policy, and has a plan
SHAPES = [
    ("anti-affinity", {}, ["host1", "host1", "host2", "host3"]),
    ("anti-affinity", {"max_server_per_host": 2}, ["host1", "host1", "host1", "host2"]),
    ("soft-anti-affinity", {}, ["host1", "host2", "host2", "host2"]),
    ("affinity", {}, ["host1", "host1", "host2", "host3"]),
    ("soft-affinity", {}, ["host4", "host5", "host5", "host6"]),
    ("affinity", {}, ["host8", "host8", "host8", "host1"]),  # blocked: host8 is disabled
]


def populate() -> None:
    for name in HOSTS:
        MemoryCloud.hosts(AUTH_URL)[name] = ComputeHost(name, enabled=name != "host8")
    cloud = ServiceSettings.objects.create(name="cloud", auth_url=AUTH_URL, credentials={"token": "admin:bench"})
    project = Project.objects.create(customer=Customer.objects.create(name="Bench customer"), name="bench")
    tenant = Tenant.objects.create(name="bench-tenant", project=project, service_settings=cloud, backend_id="bench")
    groups = ServerGroup.objects.bulk_create(
        ServerGroup(
            tenant=tenant,
            name=f"group-{i:05d}",
            state="OK",
            backend_id=f"nova-{i}",
            policy=SHAPES[i % len(SHAPES)][0],
            rules=SHAPES[i % len(SHAPES)][1],
        )
        for i in range(args.groups)
    )
    start = timezone.now()
    members = Instance.objects.bulk_create(
        Instance(
            tenant=tenant,
            server_group=group,
            name=f"vm-{group.pk}-{k}",
            backend_id=f"srv-{group.pk}-{k}",
            status="ACTIVE",
            host_id=placement.host_id_of(tenant.backend_id, host),
        )
        for i, group in enumerate(groups)
        for k, host in enumerate(SHAPES[i % len(SHAPES)][2])
    )
    for n, member in enumerate(members):  # distinct record times, as servers recorded one by one have
        member.created = start + timedelta(milliseconds=n)
    Instance.objects.bulk_update(members, ["created"], batch_size=1000)
    logging.disable(logging.WARNING)  # a line for each group's new verdict
    with transaction.atomic():  # the verdicts' events are written with them
        placement.refresh_placement(groups)
    logging.disable(logging.NOTSET)


def page(size: int) -> list[ServerGroup]:
    return list(ServerGroup.objects.select_related("tenant__service_settings").order_by("name")[100 : 100 + size])


def no_plan(*args, **kwargs):
    return placement.NOTHING_TO_DO


def seconds_per_report(groups) -> float:
    start = time.perf_counter()
    for _ in range(args.reps):
        placement.placement_reports(groups, staff=True)
    return (time.perf_counter() - start) / args.reps


def queries(groups) -> int:
    seen = []
    with connection.execute_wrapper(lambda execute, sql, *rest: seen.append(sql) or execute(sql, *rest)):
        placement.placement_reports(groups, staff=True)
    return len(seen)


populate()
shown = page(args.page)
reports = placement.placement_reports(shown, staff=True)
assert all(r["placement_status"] in ("violated", "degraded") for r in reports), "every group must be broken"
planned = sum(bool(r["plan"]) for r in reports)
blocked = sum(r["blocked"] is not None for r in reports)
print(f"database: {connection.vendor}, groups: {args.groups}, page: {len(shown)}", end=" ")
print(f"({planned} with moves, {blocked} blocked)")
print(f"e.g. {reports[0]['plan'][0]}")

real_plan = placement.plan
timings: dict[str, list[float]] = {"with plans": [], "without plans": []}
for _ in range(args.rounds):
    placement.plan = real_plan
    timings["with plans"].append(seconds_per_report(shown))
    placement.plan = no_plan
    timings["without plans"].append(seconds_per_report(shown))
placement.plan = real_plan

medians = {name: statistics.median(values) for name, values in timings.items()}
for name, median in medians.items():
    spread = f"{min(timings[name]) * 1e3:.2f} to {max(timings[name]) * 1e3:.2f}"
    print(f"{name:15s} {median * 1e3:7.2f} ms a page of {len(shown)} (median of {args.rounds} turns; {spread})")
ratios = [w / wo for w, wo in zip(timings["with plans"], timings["without plans"], strict=True)]
ratio = medians["with plans"] / medians["without plans"]
print(f"with / without: {ratio:.2f}x (turns {min(ratios):.2f}x to {max(ratios):.2f}x); target within 2x")
counts = {"1 group": queries(shown[:1]), f"{len(shown)} groups": queries(shown)}
print(f"SQL queries per report: {counts}")
sys.exit(0 if len(set(counts.values())) == 1 and ratio <= 2 else 1)
