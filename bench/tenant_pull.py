"""Benchmark: the pull of one tenant with 5,000 server groups and 20,000 servers (issue 10).

    .venv/bin/python bench/tenant_pull.py [--groups 5000] [--members 4] [--lab DIR]

The cloud is the in-memory Nova (filled directly, in a second), or with `--lab DIR` the lab's real
Nova: started by the script with its state kept in DIR, and filled through Nova's API the first time
(one multi-create `POST /servers` per group, its members booted into it by scheduler hint; later
runs reuse what DIR holds). The lab's Nova spends about a second of CPU per server booted, so
`--member-groups` gives members to the first N groups only. Cohort's database is a fresh SQLite file,
or with COHORT_DATABASE_URL set to a PostgreSQL server, a database of its own there (`--database`,
rebuilt on every run).

It pulls the tenant three times, each timed against the two listings the pull reads (Nova's groups
and servers, read alone through Cohort's driver just before):

1. the first pull: every group imported, every server recorded;
2. a pull with nothing changed in Nova;
3. a pull after changes behind Cohort's back: 1% of the groups deleted in Nova, 1% of the servers
   deleted, 1% of the groups new.

For each it prints the wall time, the ratio to the listings, the cloud calls (the lab's are HTTP
requests: pages of the listings), the SQL queries, and the peak of Python's allocations during the
pull (`tracemalloc`, measured in a repeat of the same pull, since tracing slows Python down).
Then it checks that Cohort's records match Nova: every group, every server, every membership.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--groups", type=int, default=5000)
parser.add_argument("--members", type=int, default=4, help="servers booted into each group")
parser.add_argument(
    "--member-groups",
    type=int,
    help="only the first N groups get members, the others stay empty (default: all); the lab boots a "
    "server in about a second of CPU, so 20,000 would take hours to make",
)
parser.add_argument("--lab", metavar="DIR", help="pull from the lab's Nova, its state kept in DIR")
parser.add_argument(
    "--lab-hosts",
    type=int,
    default=14,
    help="the lab's compute hosts (a fake host takes about 1,560 servers of the smallest flavor)",
)
parser.add_argument("--database", default="cohort_bench_pull", help="the PostgreSQL database to (re)build")
args = parser.parse_args()
if args.member_groups is None:
    args.member_groups = args.groups

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
if not args.lab:
    os.environ["COHORT_CLOUD_DRIVER"] = "cohort.cloud.memory.MemoryDriver"
else:
    # The lab's Nova lists 5,000 groups at about 7 ms a group, and a busy machine slows it further:
    # a page of 1,000 may take longer than the 30 s a cloud call is given by default.
    os.environ.setdefault("COHORT_CLOUD_TIMEOUT", "120")

from fresh_database import fresh_database  # noqa: E402

fresh_database(args.database)

from django.db import connection  # noqa: E402

from cohort.cloud import openstack as openstack_driver  # noqa: E402
from cohort.cloud.memory import UNLIMITED, MemoryCloud  # noqa: E402
from cohort.openstack.clouds import cloud_for  # noqa: E402
from cohort.openstack.models import Instance, ServerGroup, Tenant  # noqa: E402
from cohort.openstack.reconcile import pull_tenant  # noqa: E402
from cohort.structure.models import Customer, Project, ServiceSettings  # noqa: E402

POLICIES = ("soft-anti-affinity", "affinity", "soft-affinity")  # each fits any number of members


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class Cloud:
    """What the benchmark does to the tenant behind Cohort's back, and how it counts cloud calls."""

    def fill(self) -> None: ...
    def change(self) -> None: ...
    def calls(self) -> int: ...
    def truth(self) -> tuple[dict[str, tuple[str, ...]], set[str]]:
        """Nova's groups (id -> members) and servers (ids), read through the driver. A member that
        Nova's server listing lacks (on the lab: a server whose build a killed lab cut short) has no
        record in Cohort to link, so it is left out."""
        driver = cloud_for(self.tenant)
        servers = {s.id for s in driver.list_servers()}
        groups = {g.id: tuple(sorted(set(g.members) & servers)) for g in driver.list_server_groups()}
        return groups, servers


class Memory(Cloud):
    def __init__(self) -> None:
        cloud = ServiceSettings.objects.create(name="memory", auth_url="memory://bench", auth_type="admin_token")
        self.tenant = _tenant(cloud, "bench-project")
        self.project = MemoryCloud.project(cloud.auth_url, self.tenant.backend_id)
        self.project.quota = UNLIMITED

    def fill(self) -> None:
        from cohort.cloud.memory import _Group

        for i in range(args.groups):
            group = _Group(f"nova-group-{i:06d}", f"group-{i:06d}", POLICIES[i % len(POLICIES)], {})
            self.project.groups[group.id] = group
            for k in range(args.members if i < args.member_groups else 0):
                self.project.boot_server(f"vm-{i:06d}-{k}", group.id)

    def change(self) -> None:
        groups = list(self.project.groups)
        for group_id in groups[::100]:
            del self.project.groups[group_id]
        for server_id in list(self.project.servers)[1::100]:
            self.project.delete_server(server_id)
        from cohort.cloud.memory import _Group

        for i in range(args.groups // 100):
            group = _Group(f"nova-new-{i:06d}", f"new-{i:06d}", "affinity", {})
            self.project.groups[group.id] = group

    def calls(self) -> int:
        return len(self.project.calls)


class Lab(Cloud):
    def __init__(self, state_dir: str) -> None:
        import cohort_lab

        self.lab = cohort_lab.start_lab(state_dir=state_dir, hosts=args.lab_hosts, timeout=300)
        self.access = self.lab.tenant("demo")
        cloud = ServiceSettings.objects.create(
            name="lab",
            auth_url=self.access.auth_url,
            auth_type=self.access.auth_type,
            credentials=dict(self.access.credentials),
            region=self.access.region,
        )
        self.tenant = _tenant(cloud, self.access.project_id)
        self.requests = 0
        request = openstack_driver.OpenStackDriver._request

        def counted(driver, method, path, **kwargs):
            self.requests += 1
            return request(driver, method, path, **kwargs)

        openstack_driver.OpenStackDriver._request = counted

    def fill(self) -> None:
        import openstack  # noqa: F401

        from cohort_lab import client

        conn = client.connect(self.access)
        driver = cloud_for(self.tenant)
        have = len(driver.list_server_groups())
        start = time.monotonic()
        for i in range(have, args.groups):
            group = driver.create_server_group(name=f"group-{i:06d}", policy=POLICIES[i % len(POLICIES)])
            if i >= args.member_groups:
                continue
            conn.compute.post(
                "/servers",
                json={
                    "server": {
                        "name": f"vm-{i:06d}",
                        "imageRef": client.IMAGE_ID,
                        "flavorRef": client.FLAVOR_ID,
                        "networks": "none",
                        "min_count": args.members,
                        "max_count": args.members,
                    },
                    "os:scheduler_hints": {"group": group.id},
                },
                microversion="2.64",
            )
            if (i + 1) % 250 == 0 or i + 1 == args.member_groups:
                rate = (i + 1 - have) / (time.monotonic() - start)
                log(f"lab: {i + 1:,} groups with their servers ({rate:.1f} groups/s)")

    def change(self) -> None:
        from cohort_lab import client

        driver = cloud_for(self.tenant)
        groups = driver.list_server_groups()
        for group in groups[::100]:
            driver.delete_server_group(group.id)
        for server in driver.list_servers()[1::100]:
            client.delete_server(self.access, server.id)
        for i in range(args.groups // 100):
            driver.create_server_group(name=f"new-{i:06d}-{time.time_ns()}", policy="affinity")

    def calls(self) -> int:
        return self.requests


def _tenant(cloud: ServiceSettings, backend_id: str) -> Tenant:
    customer = Customer.objects.create(name="Bench customer", native_name="Bench", abbreviation="BN")
    project = Project.objects.create(customer=customer, name="bench")
    return Tenant.objects.create(name="bench-tenant", project=project, service_settings=cloud, backend_id=backend_id)


class Queries:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def listings(cloud: Cloud) -> tuple[float, int, int, int]:
    """The two listings alone: seconds, cloud calls, groups, servers."""
    driver = cloud_for(cloud.tenant)
    calls, start = cloud.calls(), time.perf_counter()
    groups, servers = driver.list_server_groups(), driver.list_servers()
    return time.perf_counter() - start, cloud.calls() - calls, len(groups), len(servers)


def measure(cloud: Cloud, title: str, *, again: bool) -> dict:
    """Pull the tenant, timed (median of the listings before and after it) and counted; then, when
    `again`, the same pull again under tracemalloc for its peak."""
    before = listings(cloud)
    queries, calls = Queries(), cloud.calls()
    start = time.perf_counter()
    with connection.execute_wrapper(queries):
        assert pull_tenant(cloud.tenant.pk)
    seconds = time.perf_counter() - start
    calls = cloud.calls() - calls
    after = listings(cloud)
    listed = statistics.median([before[0], after[0]])
    peak = None
    if again:
        tracemalloc.start()
        assert pull_tenant(cloud.tenant.pk)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    row = {
        "title": title,
        "groups": before[2],
        "servers": before[3],
        "listings": listed,
        "listing calls": before[1],
        "pull": seconds,
        "calls": calls,
        "queries": queries.count,
        "peak": peak,
    }
    peak_text = f"{peak / 2**20:.1f} MB" if peak is not None else "-"
    log(
        f"{title}: {before[2]:,} groups, {before[3]:,} servers; listings {listed * 1000:.0f} ms in "
        f"{before[1]} calls; pull {seconds * 1000:.0f} ms ({seconds / listed:.1f}x), {calls} cloud calls, "
        f"{queries.count} SQL queries, peak allocations {peak_text}"
    )
    return row


def check(cloud: Cloud) -> None:
    """Cohort's records are Nova's: the same groups, servers and memberships."""
    groups, servers = cloud.truth()
    records = dict(ServerGroup.objects.filter(tenant=cloud.tenant).values_list("pk", "backend_id"))
    assert sorted(records.values()) == sorted(groups), "groups differ"
    members: dict[str, list[str]] = {backend_id: [] for backend_id in groups}
    instances = Instance.objects.filter(tenant=cloud.tenant).values_list("backend_id", "server_group_id")
    seen = set()
    for backend_id, group_pk in instances:
        seen.add(backend_id)
        if group_pk is not None:
            members[records[group_pk]].append(backend_id)
    assert seen == servers, "servers differ"
    assert {k: tuple(sorted(v)) for k, v in members.items()} == groups, "memberships differ"
    verdicts = Counter(ServerGroup.objects.filter(tenant=cloud.tenant).values_list("placement_status", flat=True))
    log(f"records match Nova: {len(groups):,} groups, {len(servers):,} servers; verdicts {dict(verdicts)}")


def main() -> None:
    log(f"database: {connection.vendor}; cloud: {'the lab at ' + args.lab if args.lab else 'in memory'}")
    cloud = Lab(args.lab) if args.lab else Memory()
    try:
        start = time.monotonic()
        cloud.fill()
        log(f"filled in {time.monotonic() - start:.1f} s")
        rows = [measure(cloud, "first pull (imports)", again=False)]
        check(cloud)
        rows.append(measure(cloud, "nothing changed", again=True))
        cloud.change()
        rows.append(measure(cloud, "1% changed", again=False))
        check(cloud)
        print()
        print("| pull | groups | servers | Nova's listings | cloud calls | the pull | ratio | SQL queries | peak |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for row in rows:
            peak = f"{row['peak'] / 2**20:.1f} MB" if row["peak"] is not None else ""
            print(
                f"| {row['title']} | {row['groups']:,} | {row['servers']:,} | {row['listings'] * 1000:,.0f} ms "
                f"({row['listing calls']} calls) | {row['calls']} | {row['pull'] * 1000:,.0f} ms | "
                f"{row['pull'] / row['listings']:.1f}x | {row['queries']} | {peak} |"
            )
    finally:
        if args.lab:
            cloud.lab.stop()


main()
