"""`/metrics`: what it counts, read back through prometheus_client's own text parser, and who may read it."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import make_group

LIST = "api/openstack-server-groups/$"


def scrape(client, **headers) -> dict:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {family.name: family for family in text_string_to_metric_families(response.content.decode())}


def value(families: dict, family: str, sample: str, **labels) -> float:
    found = [s.value for s in families[family].samples if s.name == sample and s.labels == labels]
    assert len(found) == 1, f"no single {sample}{labels} in {[s for s in families[family].samples][:20]}"
    return found[0]


def test_requests_are_counted_by_route_not_path(world, api, client):
    owner = api(world.users.owner)
    group = make_group(world.tenant, "web")
    before = (
        REGISTRY.get_sample_value("cohort_http_requests_total", {"route": LIST, "method": "GET", "status": "200"}) or 0
    )
    assert owner.get("/api/openstack-server-groups/").status_code == 200
    assert owner.get(f"/api/openstack-server-groups/{group.uuid.hex}/").status_code == 200
    assert owner.get("/api/no-such-thing/").status_code == 404
    families = scrape(client)
    assert (
        value(families, "cohort_http_requests", "cohort_http_requests_total", route=LIST, method="GET", status="200")
        == before + 1
    )
    detail = [
        s
        for s in families["cohort_http_requests"].samples
        if s.labels.get("route", "").startswith("api/openstack-server-groups/(?P<uuid>")
    ]
    assert detail, "the detail route is labelled by its pattern"
    routes = {s.labels["route"] for s in families["cohort_http_requests"].samples}
    assert not any(group.uuid.hex in route for route in routes)
    histogram = families["cohort_http_request_duration_seconds"]
    assert histogram.type == "histogram"
    count = value(
        families,
        "cohort_http_request_duration_seconds",
        "cohort_http_request_duration_seconds_count",
        route=LIST,
        method="GET",
    )
    assert count >= 1


def test_server_groups_by_state_and_placement_and_reconciliation_lag(world, client):
    from cohort.core.states import State
    from cohort.openstack import reconcile

    make_group(world.tenant, "a")
    make_group(world.tenant, "b", state=State.ERRED)
    families = scrape(client)
    assert value(families, "cohort_server_groups", "cohort_server_groups", state="OK") == 1
    assert value(families, "cohort_server_groups", "cohort_server_groups", state="ERRED") == 1
    assert value(families, "cohort_server_groups", "cohort_server_groups", state="CREATING") == 0
    placements = "cohort_server_group_placements"
    assert value(families, placements, placements, placement_status="empty") == 2
    assert value(families, placements, placements, placement_status="violated") == 0
    make_group(world.tenant, "c", placement_status="violated")
    families = scrape(client)
    assert value(families, placements, placements, placement_status="violated") == 1
    lag_before = value(
        families, "cohort_reconciliation_lag_seconds", "cohort_reconciliation_lag_seconds", cloud="test cloud"
    )
    reconcile.pull_tenant(world.tenant.pk)
    reconcile.pull_tenant(world.other_tenant.pk)
    families = scrape(client)
    lag = value(families, "cohort_reconciliation_lag_seconds", "cohort_reconciliation_lag_seconds", cloud="test cloud")
    assert 0 <= lag <= max(lag_before, 5)


def test_tasks_and_cloud_calls_are_counted(world, api, client, django_capture_on_commit_callbacks):
    runs = {"task": "cohort.openstack.tasks.advance_server_group", "outcome": "SUCCESS"}
    calls = {"operation": "create_server_group", "outcome": "ok"}
    runs_before = REGISTRY.get_sample_value("cohort_task_runs_total", runs) or 0
    calls_before = REGISTRY.get_sample_value("cohort_cloud_calls_total", calls) or 0
    with django_capture_on_commit_callbacks(execute=True):
        response = api(world.users.admin).post(
            f"/api/openstack-tenants/{world.tenant.uuid.hex}/create_server_group/",
            {"name": "g", "policy": "affinity"},
            format="json",
        )
    assert response.status_code in (200, 201, 202), response.content
    families = scrape(client)
    assert value(families, "cohort_task_runs", "cohort_task_runs_total", **runs) >= runs_before + 1
    durations = "cohort_task_duration_seconds_count"
    assert value(families, "cohort_task_duration_seconds", durations, task=runs["task"]) >= 1
    assert REGISTRY.get_sample_value("cohort_cloud_calls_total", calls) == calls_before + 1
    assert (
        value(
            families,
            "cohort_cloud_call_duration_seconds",
            "cohort_cloud_call_duration_seconds_count",
            operation="create_server_group",
        )
        >= 1
    )


def test_failed_cloud_calls_are_counted_by_error(world):
    from cohort.cloud import NotFound
    from cohort.openstack.clouds import cloud_for

    labels = {"operation": "get_server_group", "outcome": "NotFound"}
    before = REGISTRY.get_sample_value("cohort_cloud_calls_total", labels) or 0
    with pytest.raises(NotFound):
        cloud_for(world.tenant).get_server_group("no-such-group")
    assert REGISTRY.get_sample_value("cohort_cloud_calls_total", labels) == before + 1


def test_failed_logins_are_counted(world, client):
    labels = {"endpoint": "api", "reason": "invalid"}
    before = REGISTRY.get_sample_value("cohort_login_failures_total", labels) or 0
    response = client.post(
        "/api-auth/password/", {"username": "owner", "password": "wrong"}, content_type="application/json"
    )
    assert response.status_code == 401
    assert value(scrape(client), "cohort_login_failures", "cohort_login_failures_total", **labels) == before + 1


def test_only_loopback_clients_without_a_token(db, client):
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.0.0.5").status_code == 401
    # A reverse proxy on this machine makes every client look local: a forwarded request is not.
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 401


def test_with_a_token_only_its_bearer(db, client, settings):
    settings.METRICS_TOKEN = "s3cret-token"
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", REMOTE_ADDR="10.0.0.5", HTTP_AUTHORIZATION="Bearer s3cret-token").status_code == 200


def test_a_scrape_without_the_database_still_serves_the_processes_figures(db, client, monkeypatch):
    from django.db import OperationalError

    from cohort.metrics.collectors import DatabaseCollector

    def away(self):
        raise OperationalError("connection refused")

    monkeypatch.setattr(DatabaseCollector, "families", away)
    families = scrape(client)
    assert "cohort_http_requests" in families and "cohort_server_groups" not in families


def test_each_tenants_quotas_limit_and_usage(world, client):
    from cohort.openstack import reconcile
    from tests.conftest import memory_project

    make_group(world.tenant, "a")
    families = scrape(client)
    labels = {"tenant": world.tenant.uuid.hex, "tenant_name": "acme-tenant", "quota": "server_group_count"}
    assert value(families, "cohort_tenant_quota_usage", "cohort_tenant_quota_usage", **labels) == 1
    assert not [s for s in families["cohort_tenant_quota_limit"].samples if s.labels == labels]  # not known yet

    memory_project(world.tenant).quota = 4
    memory_project(world.tenant).member_quota = -1
    reconcile.pull_tenant(world.tenant.pk)  # Nova has no group "a": the pull drops its record
    families = scrape(client)
    assert value(families, "cohort_tenant_quota_limit", "cohort_tenant_quota_limit", **labels) == 4
    assert value(families, "cohort_tenant_quota_usage", "cohort_tenant_quota_usage", **labels) == 0
    members = {**labels, "quota": "server_group_member_count"}
    assert value(families, "cohort_tenant_quota_limit", "cohort_tenant_quota_limit", **members) == -1
