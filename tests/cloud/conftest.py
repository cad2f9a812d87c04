"""One contract, two clouds: every test here runs against the in-memory Nova and the real one.

`cloud` is parametrised over `memory` (`MemoryDriver`) and `nova` (`OpenStackDriver` on the lab, a
real Keystone 30 and Nova 34 started once per session in separate processes on 127.0.0.1 and stopped
at the end). Each test asks `cloud.tenant()` for a fresh project (on the lab: a Keystone project and
user, the driver logging in with a Keystone v3 password), so tests never see each other's groups. The lab
variant is skipped only when the `lab` extra (Nova itself) is not installed. Nothing here needs Django.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest

import cohort_lab
from cohort.cloud.base import CloudAccess, CloudDriver, RemoteServer
from cohort.cloud.memory import UNLIMITED, MemoryCloud, MemoryDriver
from cohort.cloud.openstack import OpenStackDriver

MEMORY_URL = "memory://contract"


MEMORY_PAGE_LIMIT = 100  # the memory cloud lists everything at once; tests page past this many anyway


@dataclass
class Tenant:
    """A fresh project: the driver under test, and what a tenant could do behind its back."""

    project_id: str
    driver: CloudDriver
    boot_server: Callable[..., RemoteServer]  # (name, group_id=None)
    set_server_group_quota: Callable[[int], None]


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
    return Tenant(project_id, driver, project.boot_server, set_quota)


def _lab_tenant(lab: cohort_lab.Lab, project_name: str) -> Tenant:
    access = lab.tenant(project_name)  # a Keystone project and user; the driver logs in with its password

    def boot(name: str, group_id: str | None = None) -> RemoteServer:
        return cohort_lab.boot_server(access, name, group_id)

    def set_quota(limit: int) -> None:
        cohort_lab.set_quota(lab.admin(), access.project_id, server_groups=limit)

    return Tenant(access.project_id, OpenStackDriver(access), boot, set_quota)


@pytest.fixture(params=["memory", "nova"])
def cloud(request: pytest.FixtureRequest) -> Cloud:
    if request.param == "memory":
        return Cloud("memory", len(MemoryCloud.project(MEMORY_URL, "hosts").hosts), _memory_tenant, MEMORY_PAGE_LIMIT)
    lab = request.getfixturevalue("lab")
    return Cloud("nova", len(lab.hosts), lambda project_id: _lab_tenant(lab, project_id), lab.max_limit)


@pytest.fixture
def tenant(cloud: Cloud) -> Tenant:
    return cloud.tenant()
