"""A real Cohort on 127.0.0.1 for the client tests: gunicorn and a Celery worker, as `./dev serve` runs them.

Both processes run the product's settings (`cohort.settings`) against the test database, over
kombu's filesystem transport in a temporary COHORT_HOME (the embedded default's broker, and one no
other worker of the suite can take tasks from: the broker tests' worker shares CI's Redis, and a task
of theirs run here, with another in-memory Nova, would break them), with the in-memory Nova inside the
worker. Nothing runs eagerly: a create is answered by gunicorn in CREATION_SCHEDULED and made OK by
the worker. They start once for this package and are stopped after its last test, before other tests
(whose workers use other clouds) run on the same database.

This process only writes fixture rows (committed: the tests use `transactional_db`) and talks HTTP.
Each test gets a cloud of its own (a fresh `memory://` URL), so the worker's in-memory Nova, which
outlives the per-test database flush, never leaks groups from one test into the next.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass

import httpx
import pytest

from tests.workers import database_url, start_worker, stop_worker, wait_for

STARTUP_TIMEOUT = 60.0
SETTLE_TIMEOUT = 60.0


@dataclass
class LiveCohort:
    url: str  # the base URL, without a trailing slash: http://127.0.0.1:<port>
    processes: list[subprocess.Popen]

    def alive(self) -> bool:
        return all(process.poll() is None for process in self.processes)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_environment(home, database: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cohort.settings",
        "COHORT_HOME": str(home),
        "COHORT_SECRET_KEY": uuid.uuid4().hex * 2,
        "COHORT_DATABASE_URL": database,
        "COHORT_DB_CONN_MAX_AGE": "0",
        "COHORT_BROKER_URL": "filesystem://",
        "COHORT_CLOUD_DRIVER": "cohort.cloud.memory.MemoryDriver",
        "COHORT_TASKS_EAGER": "0",
        "COHORT_LOG_LEVEL": "WARNING",
    }


def start_processes(port: int, env: dict[str, str]) -> list[subprocess.Popen]:
    web = [sys.executable, "-m", "gunicorn", "cohort.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "2",
           "--config", "python:cohort.gunicorn_config"]  # fmt: skip
    return [subprocess.Popen(web, env=env), start_worker(env)]


def stop_processes(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        stop_worker(process)  # terminate, then kill after 20 s: works for gunicorn as for Celery


def wait_until_serving(live: LiveCohort) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        assert live.alive(), "gunicorn or the worker exited during startup (see the captured output)"
        try:
            if httpx.get(f"{live.url}/api/", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"Cohort did not answer on {live.url} within {STARTUP_TIMEOUT}s")


@pytest.fixture(scope="package")
def live_cohort(tmp_path_factory, django_db_setup, django_db_blocker):
    """gunicorn and a worker on the test database, for this package's tests only: the worker sweeps
    the whole database for due work (with its in-memory Nova), so it must not outlive them."""
    with django_db_blocker.unblock():
        database = database_url()
    port = free_port()
    env = server_environment(tmp_path_factory.mktemp("live-cohort"), database)
    live = LiveCohort(f"http://127.0.0.1:{port}", start_processes(port, env))
    try:
        wait_until_serving(live)
        yield live
    finally:
        stop_processes(live.processes)


@pytest.fixture
def cohort(live_cohort, world, transactional_db):
    """The live server, for a test whose `world` gets a cloud of its own in the worker's memory.

    After the test, waits for the worker to settle every group and for the database to be quiet
    before it is flushed, so that no task of this test writes into the next one."""
    from cohort.structure.models import ServiceSettings

    ServiceSettings.objects.filter(pk=world.cloud.pk).update(auth_url=f"memory://{uuid.uuid4().hex}")
    yield live_cohort
    assert live_cohort.alive(), "gunicorn or the worker died during the test"
    wait_for(no_group_in_transition, "every server group to settle", SETTLE_TIMEOUT)
    wait_until_the_database_is_quiet(SETTLE_TIMEOUT)


QUIET_CHECKS = 5  # 20 ms apart: long enough to see a task the worker has just taken start its transaction


def wait_until_the_database_is_quiet(timeout: float) -> None:
    """On PostgreSQL, wait until no other session of the test database runs a statement or holds a
    transaction open, QUIET_CHECKS times in a row. A pull the test asked for may still run when its
    last request has its answer; the flush's TRUNCATE and that pull's row locks, taken in another
    order, deadlock, and PostgreSQL may pick the flush to fail. (SQLite has one writer: it waits.)"""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    query = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND state IN ('active', 'idle in transaction', 'idle in transaction (aborted)')"
    )
    quiet, deadline = 0, time.monotonic() + timeout
    while quiet < QUIET_CHECKS:
        with connection.cursor() as cursor:
            cursor.execute(query)
            busy = cursor.fetchone()[0]
        quiet = 0 if busy else quiet + 1
        assert time.monotonic() < deadline, f"{busy} session(s) still busy on the test database after {timeout} s"
        time.sleep(0.02)


def no_group_in_transition() -> bool:
    from cohort.core.states import SETTLED
    from cohort.openstack.models import ServerGroup

    return not ServerGroup.objects.exclude(state__in=SETTLED).exists()


@pytest.fixture
def token(world, transactional_db) -> str:
    """An API token of the staff user (committed, so the live server sees it)."""
    from cohort.core.authentication import issue_token

    return issue_token(world.users.staff)


def token_of(user) -> str:
    from cohort.core.authentication import issue_token

    return issue_token(user)
