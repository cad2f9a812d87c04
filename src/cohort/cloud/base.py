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
    ERROR ("" when it has no fault). Both come with the paged listing (`GET /servers/detail`).

    `host` is the host's name (`OS-EXT-SRV-ATTR:host`), which Nova shows to cloud admins only: None
    when the credentials cannot see it, or when the server has no host (then `host_id` is "").
    `task_state` is Nova's `OS-EXT-STS:task_state` (`migrating`, `resize_migrating`, ...), None when
    no task runs. `status` is Nova's: `VERIFY_RESIZE` after a cold migration, until it is confirmed."""

    id: str
    name: str
    status: str
    host_id: str = ""
    fault_message: str = ""
    host: str | None = None
    task_state: str | None = None


MIGRATION_FAILED = frozenset({"error", "failed", "cancelled"})
MIGRATION_DONE = {"live": frozenset({"completed"}), "cold": frozenset({"finished", "confirmed"})}


@dataclass(frozen=True)
class RemoteMigration:
    """One move of a server, as Nova records it (`GET /os-migrations`, a cloud admin's call).

    `kind` is `live` or `cold`. `status` is Nova's own: a live migration goes `queued`, `preparing`,
    `running`, then `completed`; a cold one `pre-migrating`, `migrating`, `post-migrating`, `finished`
    (the server waits in VERIFY_RESIZE), then `confirmed` once confirmed; either ends in `error`
    (`failed`, `cancelled`) when it fails. `dest_host` is "" until the scheduler chose one. `id` is
    the migration's uuid (its number on clouds older than compute API 2.59); `created` is when Nova
    recorded it (ISO 8601, UTC, as Nova writes it)."""

    id: str
    server_id: str
    source_host: str
    dest_host: str
    status: str
    kind: str
    created: str = ""

    @property
    def failed(self) -> bool:
        return self.status in MIGRATION_FAILED

    @property
    def done(self) -> bool:
        """The server is on `dest_host` (a cold one may still need its confirmation)."""
        return self.status in MIGRATION_DONE.get(self.kind, frozenset())


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


# What `move_failure` says when Nova recorded a failed move but hides why from these credentials.
FAILURE_HIDDEN = "Nova recorded this move as failed; only a cloud admin may see why."


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

    # Moving servers: a cloud admin's acts in Nova's default policy (Nova 34 also lets a project
    # manager move a server of its project without naming a host). Anyone else gets `Forbidden` with
    # Nova's words ("Policy doesn't allow os_compute_api:os-migrate-server:migrate_live to be
    # performed."). A server in the wrong state for the move is a `Conflict`, an unknown one `NotFound`.

    def get_server(self, server_id: str) -> RemoteServer:
        """One server, with `host` when the credentials are a cloud admin's; `NotFound` when gone."""

    def live_migrate_server(self, server_id: str, host: str | None = None) -> None:
        """Start moving an ACTIVE server to another host while it runs. Without `host` the scheduler
        picks one that honours the server's group; with `host` the scheduler still checks that host.
        Returns once Nova accepted the move and its scheduler found a host: the move itself goes on
        (watch `list_server_migrations`). No host that the group's policy and the enabled hosts allow:
        `BadRequest` with Nova's words ("No valid host was found. ...")."""

    def migrate_server(self, server_id: str, host: str | None = None) -> None:
        """Start a cold migration (ACTIVE or SHUTOFF); the scheduler picks or checks the host as for
        a live one. Nova accepts it before scheduling, so no valid host is no error here: the
        migration ends in `error` and `move_failure(server_id)` holds Nova's words. A migration that
        succeeds leaves the server in VERIFY_RESIZE on the new host until `confirm_server_migration`."""

    def confirm_server_migration(self, server_id: str) -> None:
        """Confirm a finished cold migration: the server leaves VERIFY_RESIZE for the power state it
        had (ACTIVE or SHUTOFF). `Conflict` when the server is not in VERIFY_RESIZE."""

    def list_server_migrations(self, server_id: str) -> list[RemoteMigration]:
        """The server's migrations, live and cold, oldest first."""

    def move_failure(self, server_id: str) -> str:
        """Nova's words for why the server's newest move (live or cold) failed; "" when that move did
        not fail, or the server never moved. Nova records them only in the instance action's events."""

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
