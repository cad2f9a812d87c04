"""Benchmark: one page of 50 full server groups, against a bare SQL + JSON floor on the same data.

    .venv/bin/python bench/list_page.py [--groups 2000] [--rounds 10] [--burst 1] [--user owner|staff]

Builds a fresh database (SQLite under a temporary COHORT_HOME, or the PostgreSQL of
COHORT_DATABASE_URL, in the database `--database`, cohort_bench unless told), fills it with groups
that each have two member servers, analyzes it, and measures two ways, each with floor and Cohort
taking `--rounds` turns of `--burst` seconds (the machine's load weighs on both alike):

- over HTTP (needs `wrk`): Cohort under gunicorn (one sync worker) against `bench/floor_app.py` under
  the same gunicorn: one SQL query for the page (the same joins), one for its members, json.dumps, no
  framework, no authentication, no scoping. wrk runs one thread with 4 connections. With
  `--floor issue`, the floor issue 10 describes instead: one COUNT, one query that reads the page
  with its members aggregated to JSON in SQL (a correlated subquery: `jsonb_agg` on PostgreSQL,
  `json_group_array` on SQLite), orjson; measured with `ab -c 2` (needs `ab`, apache2-utils).
- in process: Cohort's whole request through Django's test client against the floor's function
  called directly, which leaves out HTTP and so is the harsher ratio; and, for calibration, the same
  page served the idiomatic DRF way (`bench/drf_reference.py`: ModelSerializer, select_related,
  prefetch_related).

Cohort's request includes token authentication, role scoping, pagination with its count query and
Link header, and rendering. It prints pages per second (the mean of the turns), the ratios with the
spread of the rounds' ratios, and SQL queries per request.
"""

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request

parser = argparse.ArgumentParser()
parser.add_argument("--groups", type=int, default=2000)
parser.add_argument("--burst", type=int, default=1, help="seconds of each turn (whole seconds: wrk's unit)")
parser.add_argument("--user", choices=["staff", "owner"], default="owner")
parser.add_argument("--database", default="cohort_bench", help="the PostgreSQL database to (re)build")
parser.add_argument("--rounds", type=int, default=10, help="turns of floor then Cohort, HTTP and in process")
parser.add_argument(
    "--floor",
    choices=["two-queries", "issue"],
    default="two-queries",
    help="two-queries: page, members, json.dumps, no count, wrk -c4; issue: issue 10's floor (one COUNT, one "
    "query with the members aggregated in SQL, orjson; ab -c 2)",
)
args = parser.parse_args()

from fresh_database import fresh_database  # noqa: E402

fresh_database(args.database)

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from cohort.core.authentication import issue_token  # noqa: E402
from cohort.openstack.models import Instance, ServerGroup, Tenant  # noqa: E402
from cohort.structure.models import Customer, CustomerRole, Project, ServiceSettings  # noqa: E402


def populate() -> str:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create(username="bench", is_staff=args.user == "staff")
    cloud = ServiceSettings.objects.create(name="cloud", auth_url="memory://bench")
    customer = Customer.objects.create(name="Bench customer", native_name="Bench", abbreviation="BN")
    CustomerRole.objects.create(customer=customer, user=user, role="owner")
    project = Project.objects.create(customer=customer, name="bench")
    tenant = Tenant.objects.create(name="bench-tenant", project=project, service_settings=cloud, backend_id="b")
    groups = ServerGroup.objects.bulk_create(
        ServerGroup(tenant=tenant, name=f"group-{i:05d}", state="OK", backend_id=f"nova-{i}", policy="anti-affinity")
        for i in range(args.groups)
    )
    Instance.objects.bulk_create(
        Instance(tenant=tenant, server_group=g, name=f"vm-{g.pk}-{k}", backend_id=f"srv-{g.pk}-{k}")
        for g in groups
        for k in range(2)
    )
    return issue_token(user)


os.environ["BENCH_DATABASE"] = (
    os.environ["COHORT_DATABASE_URL"] if connection.vendor == "postgresql" else str(connection.settings_dict["NAME"])
)
# The floor reads what Cohort's renderer reads (the declared columns) in one query it runs by hand.
from cohort.openstack.api.wire import MEMBER, SERVER_GROUP  # noqa: E402

page_query = ServerGroup.objects.order_by("tenant__name", "name").values_list("pk", *SERVER_GROUP.columns)[100:150]
if args.floor == "issue":
    # the members of each group of the page as one JSON array, made by the database
    from django.db.models import Aggregate, OuterRef, Subquery, TextField  # noqa: E402
    from django.db.models.functions import Cast, JSONObject  # noqa: E402

    if connection.vendor == "postgresql":
        from django.contrib.postgres.aggregates import JSONBAgg

        aggregate = Cast(JSONBAgg(JSONObject(**{c: c for c in MEMBER.columns}), order_by="name"), TextField())
    else:

        class JsonGroupArray(Aggregate):
            function = "JSON_GROUP_ARRAY"
            output_field = TextField()

        aggregate = JsonGroupArray(JSONObject(**{c: c for c in MEMBER.columns}))
    members = Instance.objects.filter(server_group=OuterRef("pk")).order_by().values("server_group").values(m=aggregate)
    page_query = (
        ServerGroup.objects.order_by("tenant__name", "name")
        .annotate(members=Subquery(members))
        .values_list("pk", *SERVER_GROUP.columns, "members")[100:150]
    )
    os.environ["BENCH_COUNT_SQL"] = "SELECT COUNT(*) FROM openstack_servergroup"
page_sql, page_params = page_query.query.sql_with_params()
os.environ["BENCH_PAGE_SQL"] = page_sql
os.environ["BENCH_PAGE_PARAMS"] = json.dumps(page_params)  # the JSON keys of the issue floor's members
os.environ["BENCH_FLOOR"] = args.floor
os.environ["BENCH_COLUMNS"] = " ".join(("id", *SERVER_GROUP.columns))
os.environ["BENCH_MEMBER_COLUMNS"] = " ".join(MEMBER.columns)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import floor_app  # noqa: E402


def floor() -> bytes:
    return floor_app.page()


def rate(func, seconds: float) -> float:
    func()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        func()
        count += 1
    return count / (time.perf_counter() - start)


token = populate()
with connection.cursor() as cursor:  # the statistics a live database has (autovacuum would gather them soon)
    cursor.execute("ANALYZE")
client = Client(HTTP_AUTHORIZATION=f"Token {token}", HTTP_HOST="localhost")
url = "/api/openstack-server-groups/?page=3&page_size=50"


def cohort() -> bytes:
    response = client.get(url)
    assert response.status_code == 200 and len(response.json()) == 50, response.content[:200]
    return response.content


@contextlib.contextmanager
def serving(app: str, port: int, env: dict):
    """`app` under gunicorn (one sync worker) on `port`, answering, until the block ends."""
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            app,
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--chdir",
            os.path.dirname(os.path.abspath(__file__)),
            "--log-level",
            "warning",
        ],
        env=env,
    )
    try:
        target = f"http://127.0.0.1:{port}{url}"
        for _ in range(100):
            try:
                urllib.request.urlopen(urllib.request.Request(target, headers={"Authorization": f"Token {token}"}))
                break
            except OSError:
                time.sleep(0.1)
        yield target
    finally:
        server.terminate()
        server.wait()


def ab(target: str) -> float:
    out = subprocess.run(
        ["ab", "-q", "-c", "2", "-t", str(args.burst), "-n", "1000000", "-H", f"Authorization: Token {token}", target],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert re.search(r"Non-2xx responses", out) is None, out
    return float(re.search(r"Requests per second:\s+([\d.]+)", out).group(1))


def wrk(target: str) -> float:
    out = subprocess.run(
        ["wrk", "-t1", "-c4", f"-d{args.burst}s", "-H", f"Authorization: Token {token}", target],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Non-2xx" not in out, out
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def alternate(floor_burst, cohort_burst) -> tuple[float, float, list[float]]:
    """Floor and Cohort in turn, `--rounds` times: their mean rates and each round's ratio. Short turns,
    so that the machine's load (shared, and changing by the second) weighs on both alike."""
    floors, cohorts = [], []
    for _ in range(args.rounds):
        floors.append(floor_burst())
        cohorts.append(cohort_burst())
    ratios = sorted(c / f for f, c in zip(floors, cohorts, strict=True))
    return statistics.mean(floors), statistics.mean(cohorts), ratios


def spread(ratios: list[float]) -> str:
    return f"rounds {ratios[0]:.0%} to {ratios[-1]:.0%}, median {statistics.median(ratios):.0%}"


connection.close()
print(f"database: {connection.vendor}, groups: {args.groups}, user: {args.user}, page: 50 full objects")
floor_name = "SQL + json.dumps" if args.floor == "two-queries" else "COUNT + SQL + orjson"
load = ab if args.floor == "issue" else wrk
if shutil.which(load.__name__):
    env = {**os.environ, "COHORT_LOG_LEVEL": "WARNING"}
    with (
        serving("floor_app:application", 18731, env) as floor_target,
        serving("cohort.wsgi:application", 18732, env) as cohort_target,
    ):
        http_floor, http_cohort, ratios = alternate(lambda: load(floor_target), lambda: load(cohort_target))
    print(f"HTTP floor  (gunicorn + {floor_name}, {load.__name__}): {http_floor:8.0f} pages/s")
    ratio = http_cohort / http_floor
    print(f"HTTP cohort (gunicorn + whole request):    {http_cohort:8.0f} pages/s = {ratio:.0%} of the floor")
    print(f"  ({spread(ratios)})")
else:
    print(f"{load.__name__} not found: skipping the HTTP measurement (apt-get install wrk apache2-utils)")

queries = []
with connection.execute_wrapper(lambda execute, sql, *rest: queries.append(sql) or execute(sql, *rest)):
    cohort()
from drf_reference import ServerGroupList  # noqa: E402
from rest_framework.test import APIRequestFactory  # noqa: E402

reference_view = ServerGroupList.as_view()


def reference() -> bytes:
    request = APIRequestFactory().get(url, HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Token {token}")
    response = reference_view(request)
    response.render()
    assert response.status_code == 200, response.content[:200]
    return response.content


floor_rate, cohort_rate, ratios = alternate(lambda: rate(floor, args.burst), lambda: rate(cohort, args.burst))
reference_rate = rate(reference, args.burst * args.rounds)
print(f"in-process floor  ({floor_name}):  {floor_rate:8.0f} pages/s")
print(
    f"in-process cohort (whole request):     {cohort_rate:8.0f} pages/s = {cohort_rate / floor_rate:.0%} of the floor"
)
print(f"  ({spread(ratios)})")
reference_ratio = reference_rate / floor_rate
print(f"in-process idiomatic DRF (ModelSerializer): {reference_rate:6.0f} pages/s = {reference_ratio:.0%} of the floor")
print(f"SQL queries per cohort request: {len(queries)}")
sys.exit(0)
