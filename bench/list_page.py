"""Benchmark: one page of 50 full server groups, against a bare SQL + JSON floor on the same data.

    .venv/bin/python bench/list_page.py [--groups 2000] [--seconds 5] [--user owner|staff] [--rounds 3]

Builds a fresh database (SQLite under a temporary COHORT_HOME, or the PostgreSQL of
COHORT_DATABASE_URL, in a database named cohort_bench, or --database), fills it with groups that each have two member
servers, and measures two ways:

- over HTTP (needs `wrk`): Cohort under gunicorn (one sync worker) against `bench/floor_app.py` under
  the same gunicorn: one SQL query for the page (the same joins), one for its members, json.dumps, no
  framework, no authentication, no scoping. wrk runs one thread with 4 connections; floor and Cohort
  alternate for `--rounds` rounds, and the median round's ratio is reported.
- in process: Cohort's whole request through Django's test client against the floor's function
  called directly, which leaves out HTTP and so is the harsher ratio; and, for calibration, the same
  page served the idiomatic DRF way (`bench/drf_reference.py`: ModelSerializer, select_related,
  prefetch_related).

Cohort's request includes token authentication, role scoping, pagination with its count query and
Link header, and rendering. It prints pages per second, the ratios, and SQL queries per request.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

parser = argparse.ArgumentParser()
parser.add_argument("--groups", type=int, default=2000)
parser.add_argument("--seconds", type=float, default=5.0)
parser.add_argument("--user", choices=["staff", "owner"], default="owner")
parser.add_argument("--database", default="cohort_bench", help="the PostgreSQL database to (re)build")
parser.add_argument("--rounds", type=int, default=3, help="HTTP rounds, floor then Cohort in each (median ratio)")
args = parser.parse_args()

os.environ.setdefault("COHORT_HOME", tempfile.mkdtemp(prefix="cohort-bench-"))
os.environ["DJANGO_SETTINGS_MODULE"] = "cohort.settings"
os.environ["COHORT_LOG_LEVEL"] = "WARNING"
if os.environ.get("COHORT_DATABASE_URL", "").startswith("postgres"):
    base, _, _ = os.environ["COHORT_DATABASE_URL"].rpartition("/")
    os.environ["COHORT_DATABASE_URL"] = f"{base}/{args.database}"
    import psycopg

    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{args.database}"')
        admin.execute(f'CREATE DATABASE "{args.database}"')

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from cohort.core.authentication import issue_token  # noqa: E402
from cohort.openstack.models import Instance, ServerGroup, Tenant  # noqa: E402
from cohort.structure.models import Customer, CustomerRole, Project, ServiceSettings  # noqa: E402

call_command("migrate", verbosity=0)


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
page_sql, page_params = page_query.query.sql_with_params()
assert not page_params, page_params
os.environ["BENCH_PAGE_SQL"] = page_sql
os.environ["BENCH_COLUMNS"] = " ".join(("id", *SERVER_GROUP.columns))
os.environ["BENCH_MEMBER_COLUMNS"] = " ".join(MEMBER.columns)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import floor_app  # noqa: E402


def floor() -> bytes:
    return floor_app.page()


def rate(func) -> float:
    func()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < args.seconds:
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


def http_rate(app: str, port: int, env: dict) -> float:
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
        out = subprocess.run(
            ["wrk", "-t1", "-c4", f"-d{int(args.seconds)}s", "-H", f"Authorization: Token {token}", target],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "Non-2xx" not in out, out
        return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    finally:
        server.terminate()
        server.wait()


connection.close()
print(f"database: {connection.vendor}, groups: {args.groups}, user: {args.user}, page: 50 full objects")
if shutil.which("wrk"):
    # Floor and Cohort alternate, so that a change in the machine's load between them shows as a spread
    # of the rounds' ratios rather than as a different ratio.
    env = {**os.environ, "COHORT_LOG_LEVEL": "WARNING"}
    rounds = []
    for _ in range(args.rounds):
        http_floor = http_rate("floor_app:application", 18731, env)
        http_cohort = http_rate("cohort.wsgi:application", 18732, env)
        rounds.append((http_cohort / http_floor, http_floor, http_cohort))
        print(f"  round: floor {http_floor:6.0f}, cohort {http_cohort:6.0f} pages/s = {http_cohort / http_floor:.0%}")
    ratio, http_floor, http_cohort = statistics.median_low(rounds)
    print(f"HTTP floor  (gunicorn + SQL + json.dumps): {http_floor:8.0f} pages/s")
    print(f"HTTP cohort (gunicorn + whole request):    {http_cohort:8.0f} pages/s = {ratio:.0%} of the floor (median)")
else:
    print("wrk not found: skipping the HTTP measurement (apt-get install wrk)")

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


floor_rate, cohort_rate, reference_rate = rate(floor), rate(cohort), rate(reference)
print(f"in-process floor  (SQL + json.dumps):  {floor_rate:8.0f} pages/s")
print(
    f"in-process cohort (whole request):     {cohort_rate:8.0f} pages/s = {cohort_rate / floor_rate:.0%} of the floor"
)
reference_ratio = reference_rate / floor_rate
print(f"in-process idiomatic DRF (ModelSerializer): {reference_rate:6.0f} pages/s = {reference_ratio:.0%} of the floor")
print(f"SQL queries per cohort request: {len(queries)}")
sys.exit(0)
