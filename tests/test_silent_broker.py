"""A broker that accepts connections and never answers (a hung server, a proxy in front of a dead one):
a publish, and so the POST that sends it, and `/health/ready` give up within seconds, on RabbitMQ and
on Redis alike. A broker that refuses connections is cut and restored on real processes in
tests/test_faults.py; this is the case a refusal does not cover: redis-py waits for an answer for ever
unless told not to.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from cohort.health import checks

SILENT_FOR = 30.0  # then the server hangs up, so that a regression fails the test instead of hanging it
PUBLISH = """
import time, django
django.setup()
from cohort.openstack import tasks
started = time.monotonic()
try:
    tasks.advance_server_group.delay(1)
except Exception as error:
    print(f"{type(error).__module__}.{type(error).__name__}", round(time.monotonic() - started, 2))
else:
    print("sent", round(time.monotonic() - started, 2))
"""


@pytest.fixture
def silent_port():
    """A port on 127.0.0.1 that accepts connections and says nothing on them."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    hang_up = threading.Timer(SILENT_FOR, lambda: [connection.close() for connection in held])
    hang_up.start()
    yield listener.getsockname()[1]
    hang_up.cancel()
    listener.close()
    for connection in held:
        connection.close()


def url(scheme: str, port: int) -> str:
    return f"amqp://guest:guest@127.0.0.1:{port}/cohort" if scheme == "amqp" else f"redis://127.0.0.1:{port}/0"


@pytest.mark.parametrize("scheme", ["amqp", "redis"])
def test_a_publish_to_a_silent_broker_gives_up(scheme, silent_port, tmp_path):
    """As `cohort web` publishes after a commit: with the product's settings for that broker URL."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cohort.settings",
        "COHORT_HOME": str(tmp_path),
        "COHORT_BROKER_URL": url(scheme, silent_port),
        "COHORT_TASKS_EAGER": "0",  # this process's (the test settings') is 1
    }
    run = subprocess.run([sys.executable, "-c", PUBLISH], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    outcome, took = run.stdout.split()
    assert outcome == "kombu.exceptions.OperationalError", run.stdout
    assert float(took) < 10, f"the publish gave up after {took} s (the broker connection timeout is 4 s)"


@pytest.mark.parametrize("scheme", ["amqp", "redis"])
def test_ready_gives_up_on_a_silent_broker(scheme, silent_port, db, client, settings, monkeypatch):
    """Within the check's own timeout, shortened here so that Celery's connection timeout (4 s) or no
    timeout at all cannot pass for it."""
    monkeypatch.setattr(checks, "BROKER_TIMEOUT_SECONDS", 0.5)
    settings.CELERY_BROKER_URL = url(scheme, silent_port)
    started = time.monotonic()
    response = client.get("/health/ready")
    took = time.monotonic() - started
    assert response.status_code == 503 and response.json()["broker"]["status"] == "unavailable"
    assert took < 2.5, f"the broker check took {took:.1f} s, its timeout is 0.5 s"
