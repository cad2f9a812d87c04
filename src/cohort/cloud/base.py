"""What Cohort asks of a cloud, in plain data.

Services and tasks reach a cloud only through a `CloudDriver`. Everything that crosses the boundary is
a frozen dataclass or a `CloudError`: no SDK object or SDK exception ever leaves a driver, and a
driver never sees a Django model. One driver instance speaks for one tenant (one OpenStack project),
because in OpenStack the token's project decides where a server group is created.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

POLICIES = ("affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity")


@dataclass(frozen=True)
class CloudAccess:
    """Where and as whom to reach one tenant.

    `auth_type` is a keystoneauth plugin name: `password` and `v3applicationcredential` for real
    clouds, `admin_token` (with `credentials["token"]`) for the local lab. `credentials` holds the
    plugin's secrets (username, password, user_domain_name, application_credential_id, ...).
    """

    auth_url: str
    project_id: str
    auth_type: str = "password"
    credentials: Mapping[str, str] = field(default_factory=dict)
    region: str = ""
    verify_tls: bool = True
    options: Mapping[str, object] = field(default_factory=dict)

    def __repr__(self) -> str:  # never print secrets
        return f"CloudAccess(auth_url={self.auth_url!r}, project_id={self.project_id!r})"


@dataclass(frozen=True)
class RemoteServerGroup:
    """A Nova server group as the cloud reports it. `members` are server ids."""

    id: str
    name: str
    policy: str
    rules: Mapping[str, int] = field(default_factory=dict)
    members: tuple[str, ...] = ()


@dataclass(frozen=True)
class RemoteServer:
    """A Nova server. `host_id` is Nova's per-project hash of its host (SHA-224 of the project id and
    the host name), "" when unscheduled; `fault_message` is Nova's `fault.message`, why it is in
    ERROR ("" when it has no fault). Both come with the paged listing (`GET /servers/detail`)."""

    id: str
    name: str
    status: str
    host_id: str = ""
    fault_message: str = ""


@dataclass(frozen=True)
class ComputeHost:
    """A compute host as a cloud admin sees it (`GET /os-services?binary=nova-compute`): its name,
    whether it is enabled (`status`) and whether its service is up (`state`)."""

    name: str
    enabled: bool = True
    up: bool = True

    @property
    def available(self) -> bool:
        """Whether the scheduler may put a server there."""
        return self.enabled and self.up


@dataclass(frozen=True)
class ServerGroupQuotas:
    """A project's two server-group quotas as the cloud reports them (Nova's `server_groups` and
    `server_group_members`; -1 is unlimited; None when the cloud did not say), and how many groups the
    project holds by the cloud's count (`totalServerGroupsUsed`; None when not reported)."""

    server_groups: int | None = None
    server_group_members: int | None = None
    server_groups_used: int | None = None


QUOTA_MAX = 2**31 - 1  # Nova's largest quota value (its schema's maximum, a signed 32-bit integer)


class CloudError(Exception):
    """A cloud refused or failed a request. `message` is the cloud's own words."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class BadRequest(CloudError):
    """The cloud rejected the request as invalid (Nova 400)."""


class Forbidden(CloudError):
    """Not allowed, quota exceeded included (Nova 403)."""


class NotFound(CloudError):
    """The object does not exist, or not for this project (Nova 404)."""


class Conflict(CloudError):
    """The request conflicts with the object's state (Nova 409)."""


class Unreachable(CloudError):
    """The cloud did not answer: connection refused, timeout, TLS or auth endpoint failure."""


class CloudDriver(Protocol):
    """One tenant's view of a cloud. Every method may raise a `CloudError`."""

    def __init__(self, access: CloudAccess) -> None: ...

    def create_server_group(
        self, *, name: str, policy: str, rules: Mapping[str, int] | None = None
    ) -> RemoteServerGroup:
        """Create a group; `rules` only with anti-affinity (else `BadRequest`)."""

    def get_server_group(self, group_id: str) -> RemoteServerGroup:
        """One group with its members; `NotFound` when it is gone."""

    def list_server_groups(self) -> list[RemoteServerGroup]:
        """Every group of the tenant, paged past the cloud's page limit."""

    def delete_server_group(self, group_id: str) -> None:
        """Delete a group (its servers stay); `NotFound` when it is already gone."""

    def list_servers(self) -> list[RemoteServer]:
        """Every server of the tenant with its status, host id and fault message, from the paged
        listing alone (no request per server)."""

    def list_compute_hosts(self) -> list[ComputeHost]:
        """The cloud's compute hosts; `Forbidden` unless the credentials are a cloud admin's."""

    def get_quotas(self) -> ServerGroupQuotas:
        """The tenant's own server-group limits and use (Nova's `GET /limits`, as the tenant)."""

    def set_quotas(
        self, project_id: str, *, server_groups: int | None = None, server_group_members: int | None = None
    ) -> ServerGroupQuotas:
        """Set project `project_id`'s server-group quotas (those given) as a cloud admin (Nova's
        `PUT /os-quota-sets/{project_id}`); the quotas the cloud now has (no usage). `Forbidden` unless
        the credentials are a cloud admin's; `BadRequest` with the cloud's words for a value it refuses."""


def load_driver(dotted_path: str) -> type[CloudDriver]:
    """Import the driver class named by a dotted path such as `cohort.cloud.memory.MemoryDriver`."""
    module_name, _, class_name = dotted_path.rpartition(".")
    if not module_name:
        raise ImportError(f"COHORT_CLOUD_DRIVER must be a dotted path to a class, not {dotted_path!r}")
    return getattr(importlib.import_module(module_name), class_name)
