"""Benchmark: the server group list at 10,000 and 1,000,000 groups (issue 10), on PostgreSQL.

    COHORT_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/scale.py [--groups 10000 1000000] [--requests 40] [--rebuild] [--explain DIR]

For each size it uses a database of its own, `cohort_scale_10k`, `cohort_scale_1m` (named after the
size, on the server of COHORT_DATABASE_URL; never the database of the URL itself). A database that
already holds that many groups is kept (only migrated), so the million is built once: the first run
builds it through COPY (a few minutes on a loaded 2-core machine), later runs measure the code as it
is. `--rebuild` drops and builds again.

The data: one customer, one project, 10 tenants (named so that their name order is not their id
order), the groups spread round-robin over the tenants (`group-0000000`, ...), each with 2 member
servers. Cohort runs under gunicorn with 2 sync workers; each row of the table is 40 sequential
requests (after 3 to warm up), as the customer's owner and as staff, and the table shows the p50.
Every answer is checked: 200, `X-Result-Count` exact, and the first (or last) group of the page the one
the reference's order (tenant name, name, id) puts there.

`--explain DIR` also writes, per size, the `EXPLAIN (ANALYZE, BUFFERS)` of every SQL query each row
runs (as the owner, through Django's test client) to DIR/explain-<size>.txt.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

TENANTS = 10
MEMBERS = 2
PORT = 18741
# the code measured: this checkout's, unless PYTHONPATH names another (e.g. an export of an older commit)
HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("PYTHONPATH") or os.path.join(os.path.dirname(HERE), "src")
os.environ["PYTHONPATH"] = SOURCE
sys.path.insert(0, SOURCE)


def label(groups: int) -> str:
    if groups % 1_000_000 == 0:
        return f"{groups // 1_000_000}m"
    if groups % 1000 == 0:
        return f"{groups // 1000}k"
    return str(groups)


def tenant_name(k: int) -> str:
    return f"tenant-{(k * 7) % TENANTS}"  # tenant 0 sorts first, tenant 7 last; the others shuffled


def group_name(i: int) -> str:
    return f"group-{i:07d}"


def rows(groups: int) -> list[tuple[str, str, int, str, int]]:
    """(title, query, expected X-Result-Count, group expected first/last on the page, its index)."""
    last = math.ceil(groups / 50)
    ordered_tenants = sorted(range(TENANTS), key=tenant_name)
    first_tenant, last_tenant = ordered_tenants[0], ordered_tenants[-1]
    last_of_last_tenant = max(i for i in range(groups - TENANTS, groups) if i % TENANTS == last_tenant)
    return [
        ("default first page", "", groups, "first", first_tenant),
        ("`page=3&page_size=50`", "page=3&page_size=50", groups, "first", first_tenant + 100 * TENANTS),
        ("last page, `page_size=50`", f"page={last}&page_size=50", groups, "last", last_of_last_tenant),
        ("`name=` substring", "name=0004242", 1, "first", 4242),
        ("`tenant_uuid=`", "tenant_uuid={tenant3}", groups // TENANTS, "first", 3),
        ("`o=-created`", "o=-created", groups, "first", groups - 1),
        ("`state=ERRED` (no match)", "state=ERRED", 0, "none", -1),
    ]


# ---------------------------------------------------------------------------------------------- parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--explain", metavar="DIR")
    parser.add_argument("--users", nargs="+", choices=["owner", "staff"], default=["owner", "staff"])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    url = os.environ.get("COHORT_DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set COHORT_DATABASE_URL to a PostgreSQL server (postgres://user@host:port/db).")
    if args.one:
        return measure(args)
    results = {}
    for groups in args.groups:
        command = [sys.executable, __file__, "--one", str(groups), "--requests", str(args.requests), "--users"]
        command += args.users
        command += ["--rebuild"] * args.rebuild + (["--explain", args.explain] if args.explain else [])
        out = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
        results[groups] = json.loads(out.strip().splitlines()[-1])
    load = os.getloadavg()
    print(f"\ncode: {SOURCE}")
    print(f"PostgreSQL, gunicorn -w 2, p50 of {args.requests} sequential requests; load average {load[0]:.1f}")
    for user in args.users:
        sizes = list(results)
        print(f"\nas {'the customer owner' if user == 'owner' else 'staff'}:\n")
        header = " | ".join(f"{n:,} groups" for n in sizes)
        print(f"| request | {header} | growth |")
        print("|---" * (len(sizes) + 2) + "|")
        for index, (title, *_) in enumerate(rows(sizes[0])):
            figures = [results[n][user][index] for n in sizes]
            growth = f"{figures[-1] / figures[0]:.1f}x" if len(figures) > 1 else ""
            print(f"| {title} | " + " | ".join(f"{f:,.1f} ms" for f in figures) + f" | {growth} |")


# ----------------------------------------------------------------------------------------------- child


def measure(args) -> None:
    groups = args.one
    base = os.environ["COHORT_DATABASE_URL"].rpartition("/")[0]
    name = f"cohort_scale_{label(groups)}"
    import psycopg

    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and args.rebuild:
            admin.execute(f"DROP DATABASE {name}")
            exists = None
        if not exists:
            admin.execute(f"CREATE DATABASE {name}")
    os.environ["COHORT_DATABASE_URL"] = f"{base}/{name}"
    os.environ.setdefault("COHORT_HOME", tempfile.mkdtemp(prefix="cohort-scale-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "cohort.settings"
    os.environ["COHORT_LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from cohort.openstack.models import ServerGroup

    log(f"{name}: migrating")
    call_command("migrate", verbosity=0)
    if not ServerGroup.objects.exists():
        build(groups)
    elif (count := ServerGroup.objects.count()) != groups:
        sys.exit(f"{name} holds {count} groups, not {groups}: run again with --rebuild")
    tokens, tenant3 = users_and_tokens()
    connection.close()
    figures = {user: serve_and_time(groups, tokens[user], tenant3, args.requests) for user in args.users}
    if args.explain:
        explain(groups, tokens["owner"], tenant3, args.explain)
    print(json.dumps(figures))


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def build(groups: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from cohort.openstack.models import Instance, ServerGroup, Tenant
    from cohort.structure.models import Customer, CustomerRole, Project, ServiceSettings

    started = time.perf_counter()
    User = get_user_model()
    owner = User.objects.create(username="owner")
    User.objects.create(username="staff", is_staff=True)
    cloud = ServiceSettings.objects.create(name="cloud", auth_url="memory://scale")
    customer = Customer.objects.create(name="Scale customer", native_name="Scale", abbreviation="SC")
    CustomerRole.objects.create(customer=customer, user=owner, role="owner")
    project = Project.objects.create(customer=customer, name="scale")
    tenants = [
        Tenant.objects.create(name=tenant_name(k), project=project, service_settings=cloud, backend_id=f"t{k}")
        for k in range(TENANTS)
    ]
    epoch = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def copy(model, template, varying, count, make):
        """COPY `count` rows of `model`: every column from `template`, but those in `varying` from make(i)."""
        fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        fixed = {f.column: f.get_db_prep_save(getattr(template, f.attname), connection) for f in fields}
        columns = [f.column for f in fields]
        sql = f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as stream:
            for i in range(count):
                values = dict(zip(varying, make(i), strict=True))
                stream.write_row([values[c] if c in values else fixed[c] for c in columns])

    log(f"COPY {groups:,} server groups")
    group_template = ServerGroup(tenant=tenants[0], name="x", state="OK", policy="anti-affinity")
    copy(
        ServerGroup,
        group_template,
        ("uuid", "tenant_id", "name", "backend_id", "created", "modified"),
        groups,
        lambda i: (
            uuid.uuid4(),
            tenants[i % TENANTS].pk,
            group_name(i),
            f"nova-{i}",
            epoch + dt.timedelta(seconds=i),
            epoch + dt.timedelta(seconds=i),
        ),
    )
    log(f"COPY {groups * MEMBERS:,} member servers")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, tenant_id FROM {ServerGroup._meta.db_table} ORDER BY id")
        placed = cursor.fetchall()
    instance_template = Instance(tenant=tenants[0], name="x", backend_id="x", status="ACTIVE", host_id="h")
    copy(
        Instance,
        instance_template,
        ("uuid", "tenant_id", "server_group_id", "name", "backend_id", "created", "modified"),
        len(placed) * MEMBERS,
        lambda j: (
            uuid.uuid4(),
            placed[j // MEMBERS][1],
            placed[j // MEMBERS][0],
            f"vm-{j}",
            f"srv-{j}",
            epoch,
            epoch,
        ),
    )
    log("VACUUM ANALYZE")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    log(f"built in {time.perf_counter() - started:.0f} s")


def users_and_tokens() -> tuple[dict[str, str], str]:
    from django.contrib.auth import get_user_model

    from cohort.core.authentication import issue_token
    from cohort.openstack.models import Tenant

    users = get_user_model().objects
    tokens = {name: issue_token(users.get(username=name)) for name in ("owner", "staff")}
    return tokens, str(Tenant.objects.get(backend_id="t3").uuid)


def serve_and_time(groups: int, token: str, tenant3: str, requests: int) -> list[float]:
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "cohort.wsgi:application",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--workers",
            "2",
            "--log-level",
            "warning",
            "--timeout",
            "300",  # a request of the unindexed list on a loaded machine may take more than the default 30 s
        ],
        env={**os.environ},
    )
    try:
        wait_for(f"http://127.0.0.1:{PORT}/api/", token)
        return [
            p50(groups, token, query.format(tenant3=tenant3), count, where, index, requests)
            for _, query, count, where, index in rows(groups)
        ]
    finally:
        server.terminate()
        server.wait()


def wait_for(url: str, token: str) -> None:
    for _ in range(300):
        try:
            urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": f"Token {token}"}))
            return
        except OSError:
            time.sleep(0.1)
    sys.exit("gunicorn did not answer")


def p50(groups, token, query, count, where, index, requests) -> float:
    url = f"http://127.0.0.1:{PORT}/api/openstack-server-groups/?{query}"
    request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})
    times = []
    for n in range(3 + requests):
        started = time.perf_counter()
        with urllib.request.urlopen(request) as response:
            body = response.read()
            total = response.headers["X-Result-Count"]
        elapsed = time.perf_counter() - started
        if n >= 3:
            times.append(elapsed * 1000)
    page = json.loads(body)
    assert total == str(count), (query, total, count)
    if where == "none":
        assert page == [], page
    else:
        item = page[0] if where == "first" else page[-1]
        assert item["name"] == group_name(index), (query, item["name"], group_name(index))
        assert item["tenant_name"] == tenant_name(index % TENANTS), (query, item["tenant_name"])
        assert len(item["instances"]) == MEMBERS
    load = os.getloadavg()[0]
    log(f"{groups:,} ?{query}: p50 {statistics.median(times):.1f} ms (X-Result-Count {total}; load {load:.1f})")
    return statistics.median(times)


def explain(groups: int, token: str, tenant3: str, directory: str) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Token {token}", HTTP_HOST="localhost")
    lines = [f"# {groups:,} groups, as the customer owner: EXPLAIN (ANALYZE, BUFFERS) of each query\n"]
    for title, query, *_ in rows(groups):
        query = query.format(tenant3=tenant3)
        client.get(f"/api/openstack-server-groups/?{query}")  # warm
        with CaptureQueriesContext(connection) as captured:
            client.get(f"/api/openstack-server-groups/?{query}")
        lines.append(f"\n## {title}: ?{query}\n")
        for item in captured.captured_queries:
            sql = item["sql"]
            if "openstack_" not in sql or not sql.lstrip().upper().startswith("SELECT"):
                continue  # authentication, token bookkeeping
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
                plan = "\n".join(row[0] for row in cursor.fetchall())
            lines.append(f"\n```sql\n{sql}\n```\n\n```text\n{plan}\n```\n")
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, f"explain-{label(groups)}.txt"), "w") as out:
        out.write("".join(lines))


if __name__ == "__main__":
    main()
