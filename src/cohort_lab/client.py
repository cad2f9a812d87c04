"""Acting on the lab as its users would: tenants boot servers, an admin sets quotas.

Everything here goes through Nova's public API with openstacksdk, authenticated the lab's way (token
`user:project` against the compute endpoint), so what a test or a newcomer does here is what a tenant
could do on a real cloud. Results come back as `cohort.cloud.base` dataclasses and failures as
`CloudError`s, exactly as from a driver.
"""

from __future__ import annotations

import functools
import time

import openstack.connection

from cohort.cloud import openstack as openstack_driver
from cohort.cloud.base import CloudAccess, CloudError, RemoteServer
from cohort.cloud.openstack import translated_errors

IMAGE_ID = "155d900f-4e14-4e4c-a73d-069cbf4541e6"  # the image of Nova's Glance fixture
FLAVOR_ID = "1"  # m1.tiny of Nova's default flavors
TENANT_USER = "demo"
ADMIN_USER = "admin"  # the lab gives this user the admin role


def lab_token(user: str, project: str) -> str:
    """The token the lab accepts for `user` in `project`."""
    return f"{user}:{project}"


@functools.lru_cache(maxsize=64)
def connect(endpoint: str, project: str, user: str = TENANT_USER) -> openstack.connection.Connection:
    """An openstacksdk connection to the lab as `user` of `project`, set up as the driver's is.

    Kept per (endpoint, project, user): each new connection would discover versions again.
    """
    return openstack_driver.connect(lab_access(endpoint, project, user))


def lab_access(endpoint: str, project: str, user: str = TENANT_USER) -> CloudAccess:
    """The `CloudAccess` for `user` of `project` on the lab at `endpoint`."""
    credentials = {"token": lab_token(user, project)}
    return CloudAccess(auth_url=endpoint, project_id=project, auth_type="admin_token", credentials=credentials)


def boot_server(
    endpoint: str, project: str, name: str, group_id: str | None = None, *, timeout: float = 60.0
) -> RemoteServer:
    """Boot a server as a tenant user, into `group_id` by scheduler hint; wait until it settles.

    A server that no host can take ends in ERROR (Nova's "No valid host was found"), as on a real
    cloud, and is still a member of its group.
    """
    conn = connect(endpoint, project)
    attrs = {"name": name, "image_id": IMAGE_ID, "flavor_id": FLAVOR_ID, "networks": "none"}
    if group_id:
        attrs["scheduler_hints"] = {"group": group_id}
    with translated_errors():
        server_id = conn.compute.create_server(**attrs).id  # the create reply has no status yet
        deadline = time.monotonic() + timeout
        server = conn.compute.get_server(server_id)
        while server.status == "BUILD" and time.monotonic() < deadline:
            time.sleep(0.1)
            server = conn.compute.get_server(server_id)
    if server.status == "BUILD":
        raise CloudError(f"Server {server.id} was still building after {timeout} s.")
    return RemoteServer(server.id, server.name or "", server.status, server.host_id or "")


def delete_server(endpoint: str, project: str, server_id: str) -> None:
    """Delete a server as a tenant user (it leaves its group)."""
    with translated_errors():
        connect(endpoint, project).compute.delete_server(server_id, ignore_missing=False)


def set_quota(endpoint: str, project: str, **limits: int) -> None:
    """Set per-project quotas as the lab's admin, e.g. `set_quota(url, "p1", server_groups=2)`."""
    conn = connect(endpoint, project, user=ADMIN_USER)
    with translated_errors():
        response = conn.compute.put(f"/os-quota-sets/{project}", json={"quota_set": limits})
    if response.status_code != 200:
        raise CloudError(f"Setting quotas {limits} for {project} failed: {response.text}")
