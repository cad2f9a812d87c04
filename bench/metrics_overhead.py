"""Benchmark: the list page with and without the metrics middleware, in one process, interleaved.

    .venv/bin/python bench/metrics_overhead.py [--groups 2000] [--requests 300] [--rounds 7]

Builds a fresh database as `bench/list_page.py` does (SQLite under a temporary COHORT_HOME, or the
PostgreSQL of COHORT_DATABASE_URL in a database named cohort_bench_metrics), then times one page of 50
full server groups through Django's test client, `--requests` at a time, alternating between a
client whose middleware counts and times each request (multiprocess mode, writing its memory-mapped
files as `cohort web` does) and one without it (and without the request-id middleware, for a third
figure). It prints the median pages per second of each and the difference, the time the metrics'
own work takes alone (the steadier figure on a busy machine), and the SQL queries per request of
each (which must be equal; the exit status says so).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

parser = argparse.ArgumentParser()
parser.add_argument("--groups", type=int, default=2000)
parser.add_argument("--requests", type=int, default=300)
parser.add_argument("--rounds", type=int, default=7)
args = parser.parse_args()

home = tempfile.mkdtemp(prefix="cohort-bench-")
os.environ["COHORT_HOME"] = home
os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.path.join(home, "metrics", f"bench-{os.getpid()}")
os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"])
os.environ["DJANGO_SETTINGS_MODULE"] = "cohort.settings"
os.environ["COHORT_LOG_LEVEL"] = "WARNING"
if os.environ.get("COHORT_DATABASE_URL", "").startswith("postgres"):
    base, _, _ = os.environ["COHORT_DATABASE_URL"].rpartition("/")
    os.environ["COHORT_DATABASE_URL"] = f"{base}/cohort_bench_metrics"
    import psycopg

    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS cohort_bench_metrics")
        admin.execute("CREATE DATABASE cohort_bench_metrics")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from cohort.core.authentication import issue_token  # noqa: E402
from cohort.openstack.models import Instance, ServerGroup, Tenant  # noqa: E402
from cohort.structure.models import Customer, CustomerRole, Project, ServiceSettings  # noqa: E402

call_command("migrate", verbosity=0)
METRICS = "cohort.metrics.middleware.http_metrics"
REQUEST_IDS = "cohort.core.request_ids.request_id_middleware"
URL = "/api/openstack-server-groups/?page=3&page_size=50"


def populate() -> str:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create(username="bench")
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


token = populate()


def client_with(middleware: list[str]) -> Client:
    client = Client(HTTP_AUTHORIZATION=f"Token {token}", HTTP_HOST="localhost")
    with override_settings(MIDDLEWARE=middleware):
        assert client.get(URL).status_code == 200  # builds its middleware chain now
    return client


clients = {
    "metrics on": client_with(settings.MIDDLEWARE),
    "metrics off": client_with([m for m in settings.MIDDLEWARE if m != METRICS]),
    "metrics and request ids off": client_with([m for m in settings.MIDDLEWARE if m not in (METRICS, REQUEST_IDS)]),
}


def queries(client: Client) -> int:
    seen = []
    with connection.execute_wrapper(lambda execute, sql, *rest: seen.append(sql) or execute(sql, *rest)):
        assert client.get(URL).status_code == 200
    return len(seen)


def rate(client: Client) -> float:
    start = time.perf_counter()
    for _ in range(args.requests):
        response = client.get(URL)
        assert response.status_code == 200
    return args.requests / (time.perf_counter() - start)


rates = {name: [] for name in clients}
for _ in range(args.rounds):
    for name, client in clients.items():
        rates[name].append(rate(client))

print(f"database: {connection.vendor}, groups: {args.groups}, {args.rounds} rounds of {args.requests} requests")
medians = {name: statistics.median(values) for name, values in rates.items()}
for name, median in medians.items():
    print(f"{name:30s} {median:8.1f} pages/s (median; rounds {min(rates[name]):.1f} to {max(rates[name]):.1f})")
change = medians["metrics on"] / medians["metrics off"] - 1
print(f"metrics on vs off: {change:+.1%}")
# What the middleware adds, alone (less noisy than the difference of two whole-request rates).
from cohort.metrics import instruments  # noqa: E402

n = 100_000
start = time.perf_counter()
for _ in range(n):
    began = time.perf_counter()
    instruments.http_requests.labels("api/openstack-server-groups/$", "GET", 200).inc()
    instruments.http_request_duration.labels("api/openstack-server-groups/$", "GET").observe(
        time.perf_counter() - began
    )
cost = (time.perf_counter() - start) / n
print(f"the metrics' own work: {cost * 1e6:.1f} µs a request = {cost * medians['metrics off']:.2%} of a page's time")
counts = {name: queries(client) for name, client in clients.items()}
print(f"SQL queries per request: {counts}")
sys.exit(0 if len(set(counts.values())) == 1 else 1)
