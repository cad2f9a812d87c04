"""`/health/live` and `/health/ready`: JSON, no authentication, nothing secret, 503 when the database
or the broker is away. The broker and the database are stopped for real: a redis-server and a
PostgreSQL cluster of the test's own, on free ports, behind a running `cohort web`."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from cohort.openstack import reconcile
from cohort.openstack.models import Tenant


@pytest.fixture
def working_broker(settings):
    settings.CELERY_BROKER_URL = "memory://"  # always there


def test_live_answers_without_authentication(client):
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_ready_reports_each_cloud_and_its_reconciliation(world, client, working_broker):
    Tenant.objects.filter(pk=world.other_tenant.pk).update(
        error_message="Keystone at https://admin:hunter2@keystone.example:5000/v3 said no"
    )
    response = client.get("/health/ready")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["database"] == {"status": "ok"} and body["broker"] == {"status": "ok"}
    [cloud] = body["clouds"]
    assert cloud["name"] == "test cloud" and cloud["tenants"] == 2 and cloud["tenants_never_pulled"] == 2
    assert cloud["last_pulled"] is None and cloud["lag_seconds"] >= 0
    assert cloud["tenants_failing"] == 1
    assert "hunter2" not in response.content.decode() and "***@keystone.example" in cloud["last_error"]
    assert "memory://test" not in response.content.decode()  # no cloud URL either


def test_a_successful_pull_is_the_clouds_last_reconciliation(world, client, working_broker):
    long_ago = timezone.now() - datetime.timedelta(hours=1)
    Tenant.objects.update(created=long_ago)
    assert client.get("/health/ready").json()["clouds"][0]["lag_seconds"] >= 3600
    reconcile.pull_tenant(world.tenant.pk)
    reconcile.pull_tenant(world.other_tenant.pk)
    world.tenant.refresh_from_db()
    assert world.tenant.pulled_at is not None and world.tenant.error_message == ""
    [cloud] = client.get("/health/ready").json()["clouds"]
    assert cloud["tenants_never_pulled"] == 0 and cloud["lag_seconds"] < 60 and cloud["last_pulled"]


def test_a_failed_pull_keeps_the_last_successful_one(world, client, working_broker, monkeypatch):
    from cohort.cloud import Unreachable
    from cohort.cloud.memory import MemoryDriver

    reconcile.pull_tenant(world.tenant.pk)
    world.tenant.refresh_from_db()
    pulled_at = world.tenant.pulled_at

    def unreachable(self):
        raise Unreachable("the cloud did not answer")

    monkeypatch.setattr(MemoryDriver, "list_server_groups", unreachable)
    reconcile.pull_tenant(world.tenant.pk)
    world.tenant.refresh_from_db()
    assert world.tenant.pulled_at == pulled_at and world.tenant.error_message == "the cloud did not answer"


@pytest.mark.parametrize("url", ["redis://:secret@127.0.0.1:1/0", "amqp://cohort:secret@127.0.0.1:1/cohort"])
def test_ready_is_503_when_the_broker_is_unreachable(db, client, settings, url):
    """Redis and RabbitMQ alike; both up and cut on a running web: tests/test_faults.py, through a relay."""
    settings.CELERY_BROKER_URL = url
    response = client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["broker"]["status"] == "unavailable"
    assert body["database"] == {"status": "ok"}
    assert "secret" not in response.content.decode() and "127.0.0.1" not in response.content.decode()


def test_health_is_not_in_the_api_schema(client):
    schema = client.get("/api/schema/?format=json").content.decode()
    assert "/health/" not in schema and "/metrics" not in schema
