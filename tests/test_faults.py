"""Faults on real processes: nothing lost, nothing wedged, nothing duplicated.

gunicorn and a separate Celery worker (prefork, nothing eager) run Cohort on the test database
against the lab's real Nova, over the test broker (the file-system broker, or Redis or RabbitMQ
when `COHORT_TEST_BROKER_URL` names one). Each test injects one fault: messages the broker lost, the
worker SIGKILLed while it creates or deletes, the broker unreachable and back (through a relay,
tests/tcp_relay.py, that is cut and restored), the cloud hung (SIGSTOP) and resumed, a cloud whose
Keystone answers 401 to everything registered next to a good one. After the fault ends, every record
must settle within 30 s, and Nova must hold exactly one group per OK record: no orphan, no duplicate.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import cohort_lab
from cohort.celery import app as celery_app
from cohort.cloud.openstack import OpenStackDriver
from cohort.core.states import SETTLED, State
from cohort.openstack.models import ServerGroup
from cohort.structure.models import ServiceSettings
from tests.clients.conftest import free_port, server_environment
from tests.conftest import make_tenant
from tests.refusing_keystone import Refuses401
from tests.tcp_relay import Relay
from tests.workers import FAST_INTENT, kill_worker, real_broker, start_worker, stop_worker, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

OPENSTACK_DRIVER = "cohort.cloud.openstack.OpenStackDriver"
SETTLE_WITHIN = 30.0
# A POST whose message cannot be sent still answers: Celery retries the publish for about 0.6 s
# (task_publish_retry_policy) when the broker refuses connections; the bound is generous.
PUBLISH_BOUND = 5.0
DEFAULT_PORTS = {"redis": 6379, "amqp": 5672, "pyamqp": 5672}


class Rig:
    """The processes under test and the handles to break them."""

    def __init__(self, home: Path, env: dict[str, str], lab: cohort_lab.Lab):
        self.home, self.env, self.lab = home, env, lab
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.web: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.start_web()

    def start_web(self) -> None:
        gunicorn = [sys.executable, "-m", "gunicorn", "cohort.wsgi:application", "--access-logfile", "-"]
        self.web = subprocess.Popen(
            [*gunicorn, "--bind", f"127.0.0.1:{self.port}", "--workers", "2"], env=self.env, start_new_session=True
        )
        wait_for(self.serving, "gunicorn to answer")

    def use_broker(self, url: str) -> None:
        """Run gunicorn (and the workers started from now on) on the broker at `url`."""
        self.env["COHORT_BROKER_URL"] = url
        stop_worker(self.web)
        self.start_web()

    def serving(self) -> bool:
        try:
            return httpx.get(f"{self.url}/api/", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def start_worker(self, concurrency: int = 2) -> None:
        self.worker = start_worker(self.env, driver=OPENSTACK_DRIVER, concurrency=concurrency)

    def stop(self) -> None:
        for process in (self.worker, self.web):
            if process is not None:
                stop_worker(process)

    @contextlib.contextmanager
    def cloud_paused(self):
        self.lab.process.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self.lab.process.send_signal(signal.SIGCONT)

    def lose_queued_messages(self) -> int:
        """Drop every message waiting in the broker; returns how many there were."""
        queue = self.home / "broker" / "queue"
        if self.env["COHORT_BROKER_URL"].startswith("filesystem"):
            messages = list(queue.glob("*.msg"))
            for message in messages:
                message.unlink()
            return len(messages)
        return celery_app.control.purge()


@pytest.fixture
def rig(lab, tmp_path, transactional_db):
    with real_broker(tmp_path) as broker_env:
        env = {
            **server_environment(tmp_path, broker_env["COHORT_DATABASE_URL"]),
            **FAST_INTENT,
            "COHORT_BROKER_URL": broker_env["COHORT_BROKER_URL"],
            "COHORT_CLOUD_DRIVER": OPENSTACK_DRIVER,
            "COHORT_CLOUD_TIMEOUT": "2",
            "COHORT_STEP_ATTEMPTS": "8",
            "COHORT_LOG_LEVEL": "INFO",
        }
        rig = Rig(tmp_path, env, lab)
        try:
            yield rig
        finally:
            rig.lab.process.send_signal(signal.SIGCONT)
            with contextlib.suppress(AssertionError):
                wait_for(all_settled, "the records to settle before the database is flushed", 30)
            rig.stop()


@pytest.fixture
def tenant(lab, world):
    """The world's first tenant, moved onto a project of its own in the lab."""
    project = f"faults-{uuid.uuid4().hex[:10]}"
    access = lab.tenant(project)
    cloud = ServiceSettings.objects.create(name=f"lab {project}", auth_url=lab.auth_url, region=access.region)
    tenant = make_tenant(project, world.web, cloud, backend_id=access.project_id)
    tenant.credentials = dict(access.credentials)
    tenant.save()
    return tenant


@pytest.fixture
def client(rig, world, api):
    from cohort.core.authentication import issue_token

    return httpx.Client(base_url=rig.url, headers={"Authorization": f"Token {issue_token(world.users.staff)}"})


def create(client: httpx.Client, tenant, name: str) -> str:
    response = client.post(f"/api/openstack-tenants/{tenant.uuid.hex}/create_server_group/", json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()["uuid"]


def all_settled() -> bool:
    return not ServerGroup.objects.exclude(state__in=SETTLED).exists()


def assert_settles_and_nova_agrees(tenant, *, expect_ok: int) -> None:
    started = time.monotonic()
    wait_for(all_settled, "every record to settle", SETTLE_WITHIN)
    print(f"settled {time.monotonic() - started:.1f} s after the fault ended")
    records = list(ServerGroup.objects.filter(tenant=tenant).values_list("name", "state", "backend_id"))
    ok = {backend_id for _, state, backend_id in records if state == State.OK}
    nova = OpenStackDriver(tenant.cloud_access()).list_server_groups()
    assert len(ok) == expect_ok, records
    assert sorted(g.id for g in nova) == sorted(ok), "Nova must hold exactly the OK records' groups"
    names = [name for name, _, _ in records]
    assert len(names) == len(set(names)) and all(" (" not in name for name in names), "no duplicate record"


def test_messages_lost_by_the_broker_cost_seconds(rig, tenant, client):
    names = [f"lost-{n}" for n in range(5)]
    for name in names:
        create(client, tenant, name)  # no worker yet: the messages wait in the broker...
    assert rig.lose_queued_messages() >= len(names)  # ...and are lost
    rig.start_worker()
    assert_settles_and_nova_agrees(tenant, expect_ok=5)

    group = ServerGroup.objects.get(name="lost-0")
    stop_worker(rig.worker)
    assert client.delete(f"/api/openstack-server-groups/{group.uuid.hex}/").status_code == 204
    assert rig.lose_queued_messages() >= 1
    rig.start_worker()
    assert_settles_and_nova_agrees(tenant, expect_ok=4)


@pytest.mark.parametrize("operation", ["create", "delete"])
def test_a_worker_killed_mid_step_is_replaced_without_a_trace(rig, tenant, client, operation):
    rig.start_worker()
    if operation == "delete":
        uuids = [create(client, tenant, f"doomed-{n}") for n in range(3)]
        wait_for(all_settled, "the groups to be made")
    with rig.cloud_paused():  # every cloud call now hangs inside the worker
        if operation == "create":
            uuids = [create(client, tenant, f"born-{n}") for n in range(3)]
            busy = State.CREATING
        else:
            for uuid_hex in uuids:
                assert client.delete(f"/api/openstack-server-groups/{uuid_hex}/").status_code == 204
            busy = State.DELETING
        wait_for(lambda: ServerGroup.objects.filter(state=busy).exists(), f"a step in {busy}")
        kill_worker(rig.worker)
    rig.start_worker()
    assert_settles_and_nova_agrees(tenant, expect_ok=3 if operation == "create" else 0)


@contextlib.contextmanager
def broker_server() -> Iterator[str]:
    """The URL of a broker server: the test broker when it is one (Redis, RabbitMQ), else a redis-server of
    the test's own (the file-system broker is a folder: nothing to cut the way to)."""
    broker_url = os.environ.get("COHORT_TEST_BROKER_URL", "")
    if broker_url and not broker_url.startswith("filesystem"):
        yield broker_url
        return
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        pytest.skip("on the file-system broker this needs redis-server (Debian's redis-server package)")
    port = free_port()
    command = [redis_server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.kill()
        server.wait()


def through(relay: Relay, url: str) -> str:
    """`url` with its host and port replaced by the relay's."""
    parts = urllib.parse.urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@127.0.0.1:{relay.port}" if userinfo else f"127.0.0.1:{relay.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def test_the_broker_unreachable_and_back(rig, tenant, client, request):
    """The network path to the broker cut (connections dropped, new ones refused) and restored while the
    broker runs on, as for a shared RabbitMQ or Redis that cannot be killed: the API answers promptly
    and its writes stand, /health/ready says so, and the worker reconnects and does the work."""
    with broker_server() as broker_url:
        parts = urllib.parse.urlsplit(broker_url)
        relay = Relay((parts.hostname, parts.port or DEFAULT_PORTS[parts.scheme]))
        request.addfinalizer(relay.close)
        rig.use_broker(through(relay, broker_url))
        rig.start_worker()
        create(client, tenant, "before")
        wait_for(all_settled, "the first group")
        assert httpx.get(f"{rig.url}/health/ready", timeout=10).status_code == 200

        relay.cut()
        try:
            for n in range(3):
                started = time.monotonic()
                create(client, tenant, f"during-{n}")  # the API still answers: the writes stand
                took = time.monotonic() - started
                print(f"POST during-{n} with the broker cut: {took:.2f} s")
                assert took < PUBLISH_BOUND, f"a POST took {took:.1f} s while the broker was unreachable"
            ready = httpx.get(f"{rig.url}/health/ready", timeout=10)
            assert ready.status_code == 503 and ready.json()["broker"]["status"] == "unavailable", ready.text
            time.sleep(2)
            during = ServerGroup.objects.filter(name__startswith="during-")
            assert not during.exclude(state=State.CREATION_SCHEDULED).exists(), "no work got through the cut"
        finally:
            relay.restore()
        wait_for(lambda: httpx.get(f"{rig.url}/health/ready", timeout=10).status_code == 200, "ready again", 15)
        create(client, tenant, "after")
        assert_settles_and_nova_agrees(tenant, expect_ok=5)


def test_a_hung_cloud_resumed_leaves_no_duplicate(rig, tenant, client):
    rig.start_worker()
    with rig.cloud_paused():
        for n in range(3):
            create(client, tenant, f"patient-{n}")
        time.sleep(6)  # several attempts time out (COHORT_CLOUD_TIMEOUT=2), some reached Nova
    # a reconciliation after the cloud is back deletes the late twins of timed-out creates
    wait_for(all_settled, "every record to settle", SETTLE_WITHIN)
    response = client.post(f"/api/openstack-tenants/{tenant.uuid.hex}/pull_server_groups/")
    assert response.status_code == 202
    time.sleep(2)
    assert_settles_and_nova_agrees(tenant, expect_ok=3)


def test_a_cloud_answering_401_does_not_wedge_the_others(rig, tenant, client, world):
    keystone = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuses401)
    threading.Thread(target=keystone.serve_forever, daemon=True).start()
    try:
        bad_cloud = ServiceSettings.objects.create(
            name="misconfigured",
            auth_url=f"http://127.0.0.1:{keystone.server_port}/v3",
            credentials={"username": "cohort", "password": "wrong", "user_domain_name": "Default"},
        )
        bad = make_tenant("misconfigured", world.web, bad_cloud, backend_id="0123456789abcdef")
        rig.start_worker()
        refused = [create(client, bad, f"refused-{n}") for n in range(3)]
        served = [create(client, tenant, f"served-{n}") for n in range(3)]
        wait_for(all_settled, "every record to settle", SETTLE_WITHIN)
        for uuid_hex in refused:
            record = ServerGroup.objects.get(uuid=uuid_hex)
            assert record.state == State.ERRED and "401" in record.error_message
        assert ServerGroup.objects.filter(uuid__in=served, state=State.OK).count() == 3
        assert_settles_and_nova_agrees(tenant, expect_ok=3)
    finally:
        keystone.shutdown()
