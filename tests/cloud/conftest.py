"""One contract, two clouds: every test here runs against the in-memory Nova and the real one.

`cloud` is parametrised over `memory` (`MemoryDriver`) and `nova` (`OpenStackDriver` on the lab, a
real Keystone 30 and Nova 34 started once per session in separate processes on 127.0.0.1 and stopped
at the end). Each test asks `cloud.tenant()` for a fresh project (on the lab: a Keystone project and
user, the driver logging in with a Keystone v3 password), so tests never see each other's groups. The lab
variant is skipped only when the `lab` extra (Nova itself) is not installed. Nothing here needs Django.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest

import cohort_lab
from cohort.cloud.base import CloudAccess, CloudDriver, RemoteServer, ServerGroupQuotas
from cohort.cloud.memory import UNLIMITED, MemoryCloud, MemoryDriver
from cohort.cloud.openstack import OpenStackDriver

MEMORY_URL = "memory://contract"


MEMORY_PAGE_LIMIT = 100  # the memory cloud lists everything at once; tests page past this many anyway


@dataclass
class Tenant:
    """A fresh project: the driver under test, and what a tenant could do behind its back.

    `admin` is the driver of the cloud's admin, logged in to a project of its own (as a cloud is
    registered with its operator's credentials): what moves servers."""

    project_id: str
    driver: CloudDriver
    boot_server: Callable[..., RemoteServer]  # (name, group_id=None, host=None): host forced by the admin
    set_server_group_quota: Callable[[int], None]
    stop_server: Callable[[str], None]
    admin: CloudDriver  # the cloud's admin, who may move servers and set this project's quotas

    def set_quotas(self, **quotas: int) -> ServerGroupQuotas:
        return self.admin.set_quotas(self.project_id, **quotas)


@dataclass
class Cloud:
    """One of the two clouds, handing out fresh tenants."""

    name: str
    hosts: int
    make_tenant: Callable[[str], Tenant]
    page_limit: int  # the most items the cloud puts in one page of a listing

    def tenant(self) -> Tenant:
        return self.make_tenant(f"contract-{uuid.uuid4().hex[:12]}")


def _memory_tenant(project_id: str) -> Tenant:
    project = MemoryCloud.project(MEMORY_URL, project_id)
    project.quota = UNLIMITED  # as in the lab; tests that need a quota set one

    def set_quota(limit: int) -> None:
        project.quota = limit

    driver = MemoryDriver(CloudAccess(auth_url=MEMORY_URL, project_id=project_id))
    admin = MemoryDriver(CloudAccess(auth_url=MEMORY_URL, project_id="admin", credentials={"token": "admin:admin"}))
    return Tenant(project_id, driver, project.boot_server, set_quota, project.stop_server, admin)


def _lab_tenant(lab: cohort_lab.Lab, project_name: str, *, application_credential: bool = False) -> Tenant:
    access = lab.tenant(project_name)  # a Keystone project and user, who boots the servers with its password
    if application_credential:  # the driver logs in with an application credential of that user
        driver = OpenStackDriver(cohort_lab.create_application_credential(access, "contract"))
    else:  # the driver logs in with the user's password
        driver = OpenStackDriver(access)

    def boot(name: str, group_id: str | None = None, host: str | None = None) -> RemoteServer:
        return cohort_lab.boot_server(access, name, group_id, host=host, admin=lab.admin() if host else None)

    def set_quota(limit: int) -> None:
        cohort_lab.set_quota(lab.admin(), access.project_id, server_groups=limit)

    def stop(server_id: str) -> None:
        cohort_lab.stop_server(access, server_id)

    return Tenant(access.project_id, driver, boot, set_quota, stop, OpenStackDriver(lab.admin()))


@pytest.fixture(params=["memory", "nova", "nova-appcred"])
def cloud(request: pytest.FixtureRequest) -> Cloud:
    """The in-memory Nova; the lab with the driver logging in to Keystone with a password; the lab
    with an application credential."""
    if request.param == "memory":
        return Cloud("memory", len(MemoryCloud.project(MEMORY_URL, "hosts").hosts), _memory_tenant, MEMORY_PAGE_LIMIT)
    lab = request.getfixturevalue("lab")
    appcred = request.param == "nova-appcred"
    make = functools.partial(_lab_tenant, lab, application_credential=appcred)
    return Cloud(request.param, len(lab.hosts), make, lab.max_limit)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `novas_own` check Nova's validation, scheduling or paging, which do not depend on
    how the driver logged in: they run on the memory cloud and the password variant only."""
    kept, dropped = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if params.get("cloud") == "nova-appcred" and item.get_closest_marker("novas_own"):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture
def tenant(cloud: Cloud) -> Tenant:
    return cloud.tenant()
