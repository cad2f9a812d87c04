"""Real Celery workers for tests: this process sends to a real broker, workers run as processes.

The broker is Redis or RabbitMQ when `COHORT_TEST_BROKER_URL` names one (as CI does), else kombu's
filesystem transport in a temporary folder, which also crosses processes. Workers share the test
database. Used by the `broker` tests.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from django.db import connection

from cohort.celery import app as celery_app

MEMORY_DRIVER = "cohort.cloud.memory.MemoryDriver"
# Durable intent on a test's time scale: work whose message is lost, or whose worker died, is
# dispatched again within about two seconds.
FAST_INTENT = {
    "COHORT_DISPATCH_GRACE": "1",
    "COHORT_REDISPATCH": "2",
    "COHORT_SWEEP_INTERVAL": "0.3",
    "COHORT_LEASE": "2",
}


def database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


def forget_connections() -> None:
    """Drop the app's cached connection pools, which hold the broker URL they were made with."""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@contextlib.contextmanager
def real_broker(home: Path) -> Iterator[dict[str, str]]:
    """Send tasks to the test broker while inside; yields the environment for worker processes."""
    broker_url = os.environ.get("COHORT_TEST_BROKER_URL") or "filesystem://"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cohort.settings",
        "COHORT_HOME": str(home),
        "COHORT_DATABASE_URL": database_url(),
        "COHORT_BROKER_URL": broker_url,
        "COHORT_CLOUD_DRIVER": MEMORY_DRIVER,
        "COHORT_TASKS_EAGER": "0",
        **FAST_INTENT,
    }
    broker = home / "broker"  # where the workers' settings put the filesystem transport's folders
    for folder in ("queue", "control", "processed"):
        (broker / folder).mkdir(parents=True, exist_ok=True)
    # The app reads Django's CELERY_* settings, so overrides use those names.
    overrides = {
        "CELERY_BROKER_URL": broker_url,
        "CELERY_TASK_ALWAYS_EAGER": False,
        "CELERY_BROKER_TRANSPORT_OPTIONS": {
            "data_folder_in": str(broker / "queue"),
            "data_folder_out": str(broker / "queue"),
            "control_folder": str(broker / "control"),
            "processed_folder": str(broker / "processed"),
        }
        if broker_url.startswith("filesystem")
        else {},
    }
    previous = {key: celery_app.conf[key.removeprefix("CELERY_").lower()] for key in overrides}
    celery_app.conf.update(overrides)
    forget_connections()
    if not broker_url.startswith("filesystem"):
        # Tasks an interrupted earlier run left on the test broker must not reach this run's workers.
        celery_app.control.purge()
    try:
        yield env
    finally:
        celery_app.conf.update(previous)
        forget_connections()


def start_worker(env: dict[str, str], driver: str = MEMORY_DRIVER, concurrency: int = 1) -> subprocess.Popen:
    """A worker as production runs it (prefork, so task time limits hold), in its own process group.

    One pool process by default: the in-memory Nova lives in the process that runs the task, so two
    would be two clouds."""
    command = [sys.executable, "-m", "celery", "--app", "cohort", "worker", "--pool", "prefork",
               "--concurrency", str(concurrency), "--loglevel", "INFO",
               "--without-gossip", "--without-mingle", "--without-heartbeat"]  # fmt: skip
    return subprocess.Popen(command, env={**env, "COHORT_CLOUD_DRIVER": driver}, start_new_session=True)


def kill_worker(process: subprocess.Popen) -> None:
    """SIGKILL the worker and its pool processes at once, as a machine dying would."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def stop_worker(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    with contextlib.suppress(ProcessLookupError, PermissionError):  # a worker leads its process group:
        os.killpg(process.pid, signal.SIGKILL)  # its pool processes, if a kill left them behind


def wait_for(predicate, what: str, timeout: float = 60.0):
    """Poll `predicate` until it returns something true, and return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
