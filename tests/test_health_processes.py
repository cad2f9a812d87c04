"""`/health/ready` of a running `cohort web` turns 503 when its PostgreSQL or its broker (Redis) is
stopped, and back to 200 when it returns: both servers are the test's own, really stopped."""

from __future__ import annotations

import subprocess

import pytest

from tests import services


@pytest.fixture
def stack(tmp_path):
    redis = services.Redis(tmp_path)
    postgres = services.Postgres(tmp_path)
    redis.start()
    postgres.start()
    home = tmp_path / "home"
    env = services.cohort_env(home, COHORT_DATABASE_URL=postgres.url, COHORT_BROKER_URL=redis.url)
    subprocess.run(services.cohort("migrate", "-v", "0"), env=env, check=True, timeout=120)
    web, base = services.start_web(home, env)
    yield redis, postgres, base
    web.stop()
    redis.stop()
    postgres.remove()


def ready(base: str) -> tuple[int, dict]:
    return services.get_json(base + "/health/ready")


def test_ready_follows_the_broker_and_the_database(stack):
    redis, postgres, base = stack
    status, body = ready(base)
    assert status == 200 and body["status"] == "ok", body
    assert body["clouds"] == []

    redis.stop()
    status, body = ready(base)
    assert status == 503 and body["broker"]["status"] == "unavailable" and body["database"]["status"] == "ok"
    redis.start()
    services.wait_until(lambda: ready(base)[0] == 200, timeout=15, what="ready again after the broker's return")

    postgres.stop()
    status, body = ready(base)
    assert status == 503 and body["database"]["status"] == "unavailable" and body["broker"]["status"] == "ok"
    assert "clouds" not in body
    assert str(postgres.port) not in str(body)  # what failed, never where
    postgres.start()
    services.wait_until(lambda: ready(base)[0] == 200, timeout=15, what="ready again after the database's return")
    assert services.get(base + "/health/live")[0] == 200
