"""A real Prometheus (Debian's `prometheus` package) scrapes `/metrics` of a running `cohort web`
(gunicorn, two processes) beside a `cohort worker`, and its query API returns the request and task
series, added up over every process. The same run shows a request's id on the worker's JSON log
lines of the task it queued. Prometheus listens on 127.0.0.1, keeps its data in a temporary folder,
and is stopped by the test."""

from __future__ import annotations

import json
import subprocess
import urllib.parse
import urllib.request

import pytest

from tests import services

LIST_ROUTE = "api/openstack-server-groups/$"
SETUP = """
from cohort.embedded import demo
from cohort.core.authentication import issue_token
records = demo.bootstrap()
print(issue_token(records["admin"]), records["tenant"].uuid.hex)
"""


@pytest.fixture
def running(tmp_path):
    prometheus = services.require("prometheus", "prometheus")
    home = tmp_path / "home"
    env = services.cohort_env(home, COHORT_LOG_FORMAT="json", COHORT_RECONCILE_INTERVAL="3600")
    subprocess.run(services.cohort("migrate", "-v", "0"), env=env, check=True, timeout=120)
    setup = subprocess.run(services.cohort("shell", "-c", SETUP), env=env, check=True, timeout=60, capture_output=True)
    token, tenant = setup.stdout.decode().split()[-2:]
    worker = services.Process(
        services.cohort("worker", "--", "--concurrency", "1", "--without-gossip", "--without-mingle"),
        tmp_path / "worker.log",
        env,
    )
    web, base = services.start_web(home, env)
    port = services.free_port()
    config = tmp_path / "prometheus.yml"
    target = base.removeprefix("http://")
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"scrape_configs: [{{job_name: cohort, metrics_path: /metrics, static_configs: [{{targets: ['{target}']}}]}}]\n"
    )
    server = services.Process(
        [
            prometheus,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        tmp_path / "prometheus.log",
    )
    yield base, f"http://127.0.0.1:{port}", token, tenant, tmp_path
    server.stop()
    web.stop()
    worker.stop()


def query(prometheus: str, promql: str) -> list[dict]:
    status, body = services.get_json(f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
    assert status == 200 and body["status"] == "success", body
    return body["data"]["result"]


def test_prometheus_scrapes_requests_and_tasks_of_every_process(running):
    base, prometheus, token, tenant, folder = running
    auth = {"Authorization": f"Token {token}"}
    for _ in range(6):
        assert services.get(f"{base}/api/openstack-server-groups/", headers=auth)[0] == 200
    pull = urllib.request.Request(
        f"{base}/api/openstack-tenants/{tenant}/pull_server_groups/",
        method="POST",
        headers={**auth, "X-Request-ID": "prometheus-test-pull"},
    )
    with urllib.request.urlopen(pull, timeout=10) as response:
        assert response.status in (200, 202) and response.headers["X-Request-ID"] == "prometheus-test-pull"

    requests = f'sum(cohort_http_requests_total{{route="{LIST_ROUTE}",method="GET",status="200"}})'
    services.wait_until(lambda: query(prometheus, requests), timeout=60, what="the request series in Prometheus")
    # Both gunicorn processes answered some of them: the sum is every request, whichever process took it.
    services.wait_until(
        lambda: float(query(prometheus, requests)[0]["value"][1]) == 6, timeout=30, what="all 6 requests counted"
    )
    latency = f'cohort_http_request_duration_seconds_count{{route="{LIST_ROUTE}"}}'
    assert query(prometheus, latency)
    tasks = 'cohort_task_runs_total{task="cohort.openstack.tasks.pull_tenant",outcome="SUCCESS"}'
    services.wait_until(lambda: query(prometheus, tasks), timeout=60, what="the task series in Prometheus")
    assert query(prometheus, 'cohort_server_groups{state="OK"}')
    assert query(prometheus, 'cohort_server_group_placements{placement_status="satisfied"}')
    assert query(prometheus, 'cohort_reconciliation_lag_seconds{cloud="Demo cloud"}')
    assert query(prometheus, 'up{job="cohort"}')[0]["value"][1] == "1"

    # The task's log lines in the worker carry the id of the request that queued it.
    lines = [json.loads(line) for line in (folder / "worker.log").read_text().splitlines() if line.startswith("{")]
    pulled = [line for line in lines if line["logger"] == "cohort.openstack.reconcile"]
    assert pulled and all(line["request_id"] == "prometheus-test-pull" for line in pulled), pulled
