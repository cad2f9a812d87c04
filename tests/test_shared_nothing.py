"""Cohort as an operator runs it on several hosts: two `cohort web`, three `cohort worker` and two
`cohort beat`, each with a COHORT_HOME of its own, sharing nothing but PostgreSQL and the broker, in
front of two clouds (the session's lab and a second lab). 100 creates and then 100 deletes, spread
over both web processes and both clouds: every answer below 500, every record settles, each lab's
Nova holds exactly the groups of the OK records and none after the deletes, one beat leads. A worker
started with another credentials key refuses to start and marks nothing ERRED.

PostgreSQL only: the shape under test is processes that share a database server (on SQLite they
would share a file). CI runs it in its PostgreSQL passes; about a minute, most of it the second lab's
start and the 200 steps.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from cryptography.fernet import Fernet
from django.db import connection

import cohort_lab
from cohort.cloud.openstack import OpenStackDriver
from cohort.core import beat, claims
from cohort.core.authentication import issue_token
from cohort.core.states import SETTLED, State
from cohort.openstack.models import ServerGroup
from tests.clients.conftest import free_port
from tests.conftest import lab_tenant
from tests.workers import real_broker, stop_worker, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

OPENSTACK_DRIVER = "cohort.cloud.openstack.OpenStackDriver"
GROUPS = 100


@pytest.fixture
def second_lab():
    if connection.vendor != "postgresql":
        pytest.skip("processes that share a PostgreSQL server: run with COHORT_DATABASE_URL=postgres://...")
    started = cohort_lab.start_lab()
    yield started
    started.stop()


def cohort(command: list[str], env: dict[str, str], home, log) -> subprocess.Popen:
    home.mkdir()
    return subprocess.Popen([sys.executable, "-m", "cohort.cli", *command], env={**env, "COHORT_HOME": str(home)},
                            stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


def answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_two_webs_three_workers_two_beats_two_clouds(lab, second_lab, world, tmp_path):
    tenants = [lab_tenant(lab, world, "shared")[0], lab_tenant(second_lab, world, "shared")[0]]
    token = issue_token(world.users.staff)
    with real_broker(tmp_path) as base:
        if base["COHORT_BROKER_URL"].startswith("filesystem"):
            pytest.skip("the file-system broker is one machine's folder: set COHORT_TEST_BROKER_URL")
        env = {**base, "COHORT_SECRET_KEY": uuid.uuid4().hex * 2, "COHORT_CLOUD_DRIVER": OPENSTACK_DRIVER,
               "COHORT_RECONCILE_INTERVAL": "5", "COHORT_BEAT_LEASE": "3", "COHORT_LOG_LEVEL": "WARNING"}  # fmt: skip
        ports = [free_port(), free_port()]
        processes = [
            *(
                cohort(
                    ["web", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
                    env,
                    tmp_path / f"web-{n}",
                    tmp_path / f"web-{n}.log",
                )
                for n, port in enumerate(ports)
            ),  # fmt: skip
            *(
                cohort(
                    ["worker", "--", "--concurrency", "2", "--without-gossip", "--without-mingle"],
                    env,
                    tmp_path / f"worker-{n}",
                    tmp_path / f"worker-{n}.log",
                )
                for n in range(3)
            ),  # fmt: skip
            *(cohort(["beat"], env, tmp_path / f"beat-{n}", tmp_path / f"beat-{n}.log") for n in range(2)),
        ]
        try:
            urls = [f"http://127.0.0.1:{port}" for port in ports]
            for url in urls:
                wait_for(lambda url=url: answers(url), f"{url} to answer", 60)
            clients = [httpx.Client(base_url=url, headers={"Authorization": f"Token {token}"}, timeout=30)
                       for url in urls]  # fmt: skip
            statuses: list[int] = []

            def create(n: int) -> str:
                tenant = tenants[n % 2]
                response = clients[(n // 2) % 2].post(
                    f"/api/openstack-tenants/{tenant.uuid.hex}/create_server_group/", json={"name": f"shared-{n}"}
                )
                statuses.append(response.status_code)
                return response.json().get("uuid", "")

            def delete(n_uuid: tuple[int, str]) -> None:
                n, group_uuid = n_uuid
                statuses.append(clients[n % 2].delete(f"/api/openstack-server-groups/{group_uuid}/").status_code)

            with ThreadPoolExecutor(8) as pool:
                made = list(pool.map(create, range(GROUPS)))
            assert statuses.count(201) == GROUPS, sorted(set(statuses))
            groups = ServerGroup.objects.filter(tenant__in=tenants)
            wait_for(lambda: not groups.exclude(state__in=SETTLED).exists(), "the creates to settle", 120)
            assert groups.filter(state=State.OK).count() == GROUPS, list(groups.values_list("name", "state"))
            for tenant in tenants:
                ok = set(groups.filter(tenant=tenant).values_list("backend_id", flat=True))
                nova = [g.id for g in OpenStackDriver(tenant.cloud_access()).list_server_groups()]
                assert len(ok) == GROUPS // 2 and sorted(nova) == sorted(ok), "one Nova group per record"
            assert claims.holder_of(beat.LEADER), "a beat leads"

            statuses.clear()
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(delete, enumerate(made)))
            assert all(status < 500 for status in statuses) and statuses.count(204) == GROUPS, sorted(set(statuses))
            wait_for(lambda: not groups.exists(), "the deletes to settle", 120)
            for tenant in tenants:
                assert OpenStackDriver(tenant.cloud_access()).list_server_groups() == []

            # an eighth process, given another credentials key: it says so and does not start
            wrong = {**env, "COHORT_CREDENTIALS_KEY": Fernet.generate_key().decode()}
            refused = cohort(["worker"], wrong, tmp_path / "worker-wrong-key", tmp_path / "wrong-key.log")
            assert refused.wait(timeout=60) == 1
            assert "cannot be read" in (tmp_path / "wrong-key.log").read_text()
            assert not ServerGroup.objects.filter(state=State.ERRED).exists()
        finally:
            for process in processes:
                stop_worker(process)
