"""Two `celery beat` processes with Cohort's scheduler, one worker, the test broker: each period of the
reconciliation reaches the worker once; the leader SIGKILLed, the other leads within two leases and
reconciliation goes on. (In process: `tests/test_claims.py`.)

What the worker received is read from its own log (Celery's "Task ... received" line for each
message), not from the scheduler's bookkeeping. On Redis or RabbitMQ each beat has a COHORT_HOME of
its own, as on two hosts; the file-system broker's queue is a folder, so there they share one.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from cohort.core import beat, claims
from cohort.openstack.models import Tenant
from cohort.structure.models import ServiceSettings
from tests.conftest import MEMORY_URL, make_tenant
from tests.workers import kill_worker, real_broker, stop_worker, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

INTERVAL = 3  # seconds between reconciliations
LEASE = 2  # the beat's lease
RECEIVED = re.compile(r"^(\S+ \S+) .*Task cohort\.openstack\.tasks\.reconcile_all\[\S+\] received", re.M)


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def received_periods(log: Path) -> list[int]:
    """The period (of INTERVAL seconds since the epoch) in which each reconcile_all reached the worker."""
    stamps = RECEIVED.findall(log.read_text())
    return [int(datetime.strptime(s, "%Y-%m-%d %H:%M:%S,%f").timestamp() // INTERVAL) for s in stamps]


def test_two_beats_send_each_period_once_and_the_survivor_takes_over(tmp_path, world):
    cloud = ServiceSettings.objects.create(name="beat cloud", auth_url=MEMORY_URL, auth_type="admin_token")
    tenant = make_tenant("pulled", world.web, cloud, backend_id="pulled-project")
    with real_broker(tmp_path) as env:
        env = {**env, "COHORT_RECONCILE_INTERVAL": str(INTERVAL), "COHORT_BEAT_LEASE": str(LEASE),
               "COHORT_LOG_LEVEL": "INFO"}  # fmt: skip
        shared_folder = env["COHORT_BROKER_URL"].startswith("filesystem")
        celery = [sys.executable, "-m", "celery", "--app", "cohort"]
        worker_log = tmp_path / "worker.log"
        worker = start([*celery, "worker", "--pool", "prefork", "--concurrency", "1", "--loglevel", "INFO",
                        "--without-gossip", "--without-mingle", "--without-heartbeat"], env, worker_log)  # fmt: skip
        beats = {}
        for name in ("a", "b"):
            home = tmp_path if shared_folder else tmp_path / f"beat-{name}"
            home.mkdir(exist_ok=True)
            beats[name] = start([*celery, "beat", "--loglevel", "INFO"], {**env, "COHORT_HOME": str(home)},
                                tmp_path / f"beat-{name}.log")  # fmt: skip
        try:
            leader = wait_for(lambda: claims.holder_of(beat.LEADER), "a beat to lead", 30)
            wait_for(lambda: len(set(received_periods(worker_log))) >= 3, "three reconciliations", 30)
            before = received_periods(worker_log)
            assert len(before) == len(set(before)), f"a period reached the worker twice: {before}"
            assert sorted(before) == list(range(before[0], before[0] + len(before))), f"a period was missed: {before}"
            standing_by = [n for n, p in beats.items() if f":{p.pid}:" not in leader]
            assert len(standing_by) == 1, (leader, {n: p.pid for n, p in beats.items()})
            assert claims.holder_of(beat.LEADER) == leader  # no change of leader while both live

            dead = next(n for n in beats if n not in standing_by)
            pulled = Tenant.objects.get(pk=tenant.pk).pulled_at
            assert pulled is not None, "the reconciliation pulled the tenant"
            kill_worker(beats[dead])
            killed_at = time.monotonic()
            other = lambda: claims.holder_of(beat.LEADER).replace(leader, "")  # noqa: E731
            successor = wait_for(other, "the other beat to lead", 4 * LEASE)
            took_over = time.monotonic() - killed_at
            print(f"the standby led {took_over:.1f} s after the leader was killed (lease {LEASE} s)")
            assert took_over <= 2 * LEASE
            assert f":{beats[standing_by[0]].pid}:" in successor

            count = len(before)
            wait_for(lambda: len(received_periods(worker_log)) >= count + 2, "two more reconciliations", 20)
            after = received_periods(worker_log)
            assert len(after) == len(set(after)), f"a period reached the worker twice: {after}"
            wait_for(lambda: Tenant.objects.get(pk=tenant.pk).pulled_at > pulled, "the tenant pulled again", 10)
        finally:
            for process in [*beats.values(), worker]:
                stop_worker(process)
        print((tmp_path / "beat-a.log").read_text()[-1500:], (tmp_path / "beat-b.log").read_text()[-1500:])
