"""An in-memory Nova for fast unit tests, and the reference for what a driver must do.

It keeps Nova's observable semantics for server groups: the four policies, rules only with anti-affinity,
two per-project quotas (`server_groups`, checked on create, and `server_group_members`, checked when a
server boots into a group, counting the members that the same user booted, as Nova does: both 403 with
Nova's words; -1 is unlimited; read with the tenant's own
`GET /limits` and set by an admin through `os-quota-sets`, which refuses what Nova refuses with Nova's
words), duplicate names allowed, 404 for a missing or foreign group,
deletion that leaves the servers in place, and membership decided at boot by a tiny scheduler that
honours the policy over the cloud's available hosts (a server that fits nowhere goes to ERROR with Nova's
fault, "No valid host was found. There are not enough hosts available.", and stays a member, as in Nova).
Servers are listed as Nova's paged `GET /servers/detail` lists them: status, `hostId` (SHA-224 of the
project id and the host name, "" when unscheduled) and the fault's message ("" when none). An admin may
boot a server onto a named host (`boot_server(..., host=)`), bypassing the policy as Nova's forced
placement does, and list the cloud's compute hosts (`list_compute_hosts`); the memory cloud takes an
access as a cloud admin's when its credentials hold a `token` starting with `admin:` (the lab's
`user:project` token convention), and refuses anyone else with 403, as Nova does. Hosts belong to the
cloud (its `auth_url`), shared by its projects: `MemoryCloud.hosts(auth_url)` can disable a host or mark
it down. Checks run in Nova's order (request schema, then quota, then the rules-only-with-anti-affinity
check) and fail with Nova 34's own messages; within the schema a name's characters are judged before its
length, by Nova's rule as `cohort.cloud.names` states it, which Cohort's API applies too. The driver
contract tests in `tests/cloud/` run the same cases here and against a real Nova, so the two cannot
drift. State lives in the process, shared by every driver that names the same `auth_url` and project, so
tests can look behind Cohort's back through `MemoryCloud.project(...)`.

Servers move as in Nova, for a cloud admin only (anyone else gets Nova's policy refusal), and a cloud
admin finds a server by id in any project of the cloud. The scheduler of a move skips the server's own
host and the disabled or down ones, and honours the server's group as Nova's filters do: anti-affinity
takes a host holding fewer than `max_server_per_host` of the other members, affinity only a host that
holds a member, the soft policies prefer the host with the fewest (most) members. A named host is
checked the same way. A live migration completes at once, or fails in the request with "No valid host
was found" (Nova runs its scheduler inside the request below compute API 2.34); a cold one is accepted
whatever comes: it ends `finished` with the server in VERIFY_RESIZE on its new host until confirmed
(then back to ACTIVE or SHUTOFF, as before), or in `error`, with Nova's words kept for `move_failure`.
Every attempt is a migration record (`list_server_migrations`), as in Nova.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from cohort.cloud.base import (
    FAILURE_HIDDEN,
    POLICIES,
    QUOTA_MAX,
    BadRequest,
    CloudAccess,
    CloudError,
    ComputeHost,
    Conflict,
    Forbidden,
    NotFound,
    RemoteMigration,
    RemoteServer,
    RemoteServerGroup,
    ServerGroupQuotas,
)
from cohort.cloud.names import NAME_MAX_LENGTH, refused_character

DEFAULT_QUOTA = 10
UNLIMITED = -1
DEFAULT_HOSTS = ("host1", "host2", "host3")
NO_VALID_HOST = "No valid host was found. There are not enough hosts available."
COLD_NO_VALID_HOST = "No valid host was found. No valid host found for cold migrate"
VM_STATES = {"ACTIVE": "active", "SHUTOFF": "stopped", "ERROR": "error", "VERIFY_RESIZE": "resized"}
ADMIN_TOKEN_PREFIX = "admin:"
GROUPS_OVER_QUOTA = "Quota exceeded, too many server groups."
MEMBERS_OVER_QUOTA = "Quota exceeded, too many servers in group"
QUOTA_NAMES = ("server_groups", "server_group_members")
INVALID_NAME = (
    "An invalid 'name' value was provided. The name must be: printable characters. "
    "Can not start or end with whitespace."
)


@dataclass
class _Group:
    id: str
    name: str
    policy: str
    rules: dict[str, int]
    members: list[str] = field(default_factory=list)


@dataclass
class _Server:
    id: str
    name: str
    status: str
    host: str
    fault: str = ""
    resized_from: str = ""  # the status to return to when a cold migration is confirmed
    booted_by: str = "tenant"  # or "admin": a forced placement is the cloud admin's boot


@dataclass
class _Move:
    """A migration as Nova records it, and the words of its failure ("" when it did not fail)."""

    migration: RemoteMigration
    failure: str = ""


class MemoryProject:
    """One Nova project's server groups and servers."""

    def __init__(self, project_id: str, hosts: dict[str, ComputeHost] | None = None, quota: int = DEFAULT_QUOTA):
        self.project_id = project_id
        self.compute_hosts = hosts if hosts is not None else _default_hosts()  # the cloud's, shared
        self.quota = quota  # server_groups
        self.member_quota = DEFAULT_QUOTA  # server_group_members
        self.groups: dict[str, _Group] = {}
        self.servers: dict[str, _Server] = {}
        self.failures: dict[str, CloudError] = {}
        self.calls: list[str] = []
        self.moves: list[_Move] = []

    def host_id(self, host: str) -> str:
        # Nova's hostId: a per-project hash of the host name, hiding the name itself.
        return hashlib.sha224((self.project_id + host).encode()).hexdigest() if host else ""

    @property
    def hosts(self) -> tuple[str, ...]:
        """The hosts the scheduler may use: enabled and up."""
        return tuple(name for name, host in self.compute_hosts.items() if host.available)

    def boot_server(self, name: str, group_id: str | None = None, host: str | None = None) -> RemoteServer:
        """Boot a server as a tenant user would, with the `group` scheduler hint; with `host`, onto that
        host whatever the policy, as an admin's forced placement does."""
        group = self.groups.get(group_id) if group_id else None
        if group_id and group is None:
            raise BadRequest(_not_found_message(group_id))
        if host is not None and host not in self.compute_hosts:
            raise BadRequest(f"Compute host {host} could not be found.")
        user = "tenant" if host is None else "admin"
        # Nova counts the group's members booted by the same user, and refuses at its API: no server is made
        if group and self.member_quota != UNLIMITED:
            if sum(self.servers[m].booted_by == user for m in group.members) >= self.member_quota:
                raise Forbidden(MEMBERS_OVER_QUOTA)
        host = host if host is not None else self._schedule(group)
        status, fault = ("ACTIVE", "") if host else ("ERROR", NO_VALID_HOST)
        server = _Server(str(uuid.uuid4()), name, status, host, fault, booted_by=user)
        self.servers[server.id] = server
        if group:
            group.members.append(server.id)
        return self._server(server)

    def stop_server(self, server_id: str) -> None:
        """Power a server off, as its user would (`os-stop`): ACTIVE becomes SHUTOFF."""
        self.servers[server_id].status = "SHUTOFF"

    def delete_server(self, server_id: str) -> None:
        self.servers.pop(server_id)
        for group in self.groups.values():
            if server_id in group.members:
                group.members.remove(server_id)

    def _schedule(self, group: _Group | None) -> str:
        if group is None:
            return self.hosts[0]
        used = [self.servers[m].host for m in group.members if self.servers[m].host]
        counts = {host: used.count(host) for host in self.hosts}
        if group.policy == "anti-affinity":
            limit = group.rules.get("max_server_per_host", 1)
            fits = [h for h in self.hosts if counts[h] < limit]
            return min(fits, key=counts.get) if fits else ""
        if group.policy == "affinity":
            return used[0] if used else self.hosts[0]
        if group.policy == "soft-anti-affinity":
            return min(self.hosts, key=counts.get)
        return used[0] if used else self.hosts[0]  # soft-affinity

    def destinations(self, server: _Server, named: str | None) -> list[str]:
        """Where a move of `server` may go, best first: the enabled hosts but its own that its group's
        policy allows, as Nova's filters and weighers judge them (only `named`, if given)."""
        hosts = [host for host in self.hosts if host != server.host and named in (None, host)]
        group = next((g for g in self.groups.values() if server.id in g.members), None)
        if group is None:
            return hosts
        others = [self.servers[m].host for m in group.members if m != server.id and self.servers[m].host]
        counts = {host: others.count(host) for host in hosts}
        if group.policy == "anti-affinity":
            limit = group.rules.get("max_server_per_host", 1)
            return sorted((host for host in hosts if counts[host] < limit), key=counts.get)
        if group.policy == "affinity":  # Nova's filter: a host of the group's (the server's own included)
            return sorted((host for host in hosts if host in {*others, server.host}), key=lambda h: -counts[h])
        if group.policy == "soft-anti-affinity":
            return sorted(hosts, key=counts.get)
        return sorted(hosts, key=lambda h: -counts[h])  # soft-affinity

    def record_move(self, server: _Server, kind: str, dest: str, status: str, failure: str = "") -> None:
        migration = RemoteMigration(str(uuid.uuid4()), server.id, server.host, dest, status, kind, _now())
        self.moves.append(_Move(migration, failure))

    def _group(self, group: _Group) -> RemoteServerGroup:
        members = tuple(sorted(group.members))  # sorted, as the OpenStack driver reports them
        return RemoteServerGroup(group.id, group.name, group.policy, dict(group.rules), members)

    def _server(self, server: _Server, admin: bool = False) -> RemoteServer:
        host = (server.host or None) if admin else None  # OS-EXT-SRV-ATTR:host: admins only
        return RemoteServer(server.id, server.name, server.status, self.host_id(server.host), server.fault, host)


class MemoryCloud:
    """Every in-memory project of this process, keyed by (auth_url, project_id)."""

    _lock = threading.RLock()
    _projects: dict[tuple[str, str], MemoryProject] = {}
    _hosts: dict[str, dict[str, ComputeHost]] = {}

    @classmethod
    def project(cls, auth_url: str, project_id: str) -> MemoryProject:
        with cls._lock:
            key = (auth_url, project_id)
            if key not in cls._projects:
                cls._projects[key] = MemoryProject(project_id, cls.hosts(auth_url))
            return cls._projects[key]

    @classmethod
    def hosts(cls, auth_url: str) -> dict[str, ComputeHost]:
        """The compute hosts of the cloud at `auth_url` by name; replace an entry to disable a host."""
        with cls._lock:
            return cls._hosts.setdefault(auth_url, _default_hosts())

    @classmethod
    def holder(cls, auth_url: str, server_id: str) -> MemoryProject | None:
        """The project of the cloud at `auth_url` that holds server `server_id`, if any."""
        with cls._lock:
            for (url, _), project in cls._projects.items():
                if url == auth_url and server_id in project.servers:
                    return project
            return None

    @classmethod
    def reset(cls) -> None:
        with cls._lock:
            cls._projects.clear()
            cls._hosts.clear()


class MemoryDriver:
    """A `CloudDriver` over a `MemoryProject`. Inject a failure with `project.failures[method] = err`."""

    def __init__(self, access: CloudAccess):
        self.auth_url = access.auth_url
        self.cloud = MemoryCloud.project(access.auth_url, access.project_id)
        self.admin = str(access.credentials.get("token", "")).startswith(ADMIN_TOKEN_PREFIX)

    def _enter(self, method: str) -> None:
        self.cloud.calls.append(method)
        failure = self.cloud.failures.pop(method, None)
        if failure is not None:
            raise failure

    def create_server_group(
        self, *, name: str, policy: str, rules: Mapping[str, int] | None = None
    ) -> RemoteServerGroup:
        with MemoryCloud._lock:
            self._enter("create_server_group")
            _validate_request(name, policy, rules or {})
            if self.cloud.quota != UNLIMITED and len(self.cloud.groups) >= self.cloud.quota:
                raise Forbidden(GROUPS_OVER_QUOTA)
            if rules and policy != "anti-affinity":
                raise BadRequest("Only anti-affinity policy supports rules.")
            group = _Group(str(uuid.uuid4()), name, policy, dict(rules or {}))
            self.cloud.groups[group.id] = group
            return self.cloud._group(group)

    def get_server_group(self, group_id: str) -> RemoteServerGroup:
        with MemoryCloud._lock:
            self._enter("get_server_group")
            group = self.cloud.groups.get(group_id)
            if group is None:
                raise NotFound(_not_found_message(group_id))
            return self.cloud._group(group)

    def list_server_groups(self) -> list[RemoteServerGroup]:
        with MemoryCloud._lock:
            self._enter("list_server_groups")
            return [self.cloud._group(group) for group in self.cloud.groups.values()]

    def delete_server_group(self, group_id: str) -> None:
        with MemoryCloud._lock:
            self._enter("delete_server_group")
            if self.cloud.groups.pop(group_id, None) is None:
                raise NotFound(_not_found_message(group_id))

    def list_servers(self) -> list[RemoteServer]:
        with MemoryCloud._lock:
            self._enter("list_servers")
            return [self.cloud._server(server, self.admin) for server in self.cloud.servers.values()]

    def get_server(self, server_id: str) -> RemoteServer:
        with MemoryCloud._lock:
            self._enter("get_server")
            project, server = self._find(server_id)
            return project._server(server, self.admin)

    def live_migrate_server(self, server_id: str, host: str | None = None) -> None:
        with MemoryCloud._lock:
            self._enter("live_migrate_server")
            project, server = self._find(server_id)
            self._may("os-migrate-server:migrate_live" + (":host" if host else ""))
            if server.status != "ACTIVE":
                raise _invalid_state("os-migrateLive", server)
            self._check_named(project, server, host, live=True)
            destinations = project.destinations(server, host)
            if not destinations:
                project.record_move(server, "live", "", "error", NO_VALID_HOST)
                raise BadRequest(NO_VALID_HOST)
            project.record_move(server, "live", destinations[0], "completed")
            server.host = destinations[0]

    def migrate_server(self, server_id: str, host: str | None = None) -> None:
        with MemoryCloud._lock:
            self._enter("migrate_server")
            project, server = self._find(server_id)
            self._may("os-migrate-server:migrate" + (":host" if host else ""))
            if server.status not in ("ACTIVE", "SHUTOFF"):
                raise _invalid_state("migrate", server)
            self._check_named(project, server, host, live=False)
            destinations = project.destinations(server, host)
            if not destinations:  # accepted all the same: Nova schedules a cold migration after answering
                project.record_move(server, "cold", "", "error", COLD_NO_VALID_HOST)
                return
            project.record_move(server, "cold", destinations[0], "finished")
            server.host, server.resized_from, server.status = destinations[0], server.status, "VERIFY_RESIZE"

    def confirm_server_migration(self, server_id: str) -> None:
        with MemoryCloud._lock:
            self._enter("confirm_server_migration")
            project, server = self._find(server_id)
            if server.status != "VERIFY_RESIZE":
                raise _invalid_state("confirmResize", server)
            for index, move in enumerate(project.moves):
                if move.migration.server_id == server.id and move.migration.status == "finished":
                    project.moves[index] = _Move(replace(move.migration, status="confirmed"))
            server.status, server.resized_from = server.resized_from, ""

    def list_server_migrations(self, server_id: str) -> list[RemoteMigration]:
        with MemoryCloud._lock:
            self._enter("list_server_migrations")
            self._may("os-migrations:index")
            project = MemoryCloud.holder(self.auth_url, server_id)
            moves = project.moves if project is not None else []
            return [move.migration for move in moves if move.migration.server_id == server_id]

    def move_failure(self, server_id: str) -> str:
        with MemoryCloud._lock:
            self._enter("move_failure")
            project, server = self._find(server_id)
            moves = [move for move in project.moves if move.migration.server_id == server.id]
            if not moves or not moves[-1].failure:
                return ""
            return moves[-1].failure if self.admin else FAILURE_HIDDEN

    def _find(self, server_id: str) -> tuple[MemoryProject, _Server]:
        """The server in this project, or for a cloud admin in any project of the cloud, as Nova does."""
        project = self.cloud if server_id in self.cloud.servers else None
        if project is None and self.admin:
            project = MemoryCloud.holder(self.auth_url, server_id)
        if project is None:
            raise NotFound(f"Instance {server_id} could not be found.")
        return project, project.servers[server_id]

    def _may(self, rule: str) -> None:
        if not self.admin:
            raise Forbidden(f"Policy doesn't allow os_compute_api:{rule} to be performed.")

    @staticmethod
    def _check_named(project: MemoryProject, server: _Server, host: str | None, *, live: bool) -> None:
        if host is None:
            return
        if host not in project.compute_hosts:
            raise BadRequest(f"Compute host {host} could not be found.")
        if host == server.host and live:
            raise BadRequest(f"Unable to migrate instance ({server.id}) to current host ({host}).")
        if host == server.host:
            raise BadRequest("Cannot migrate to the host where the server exists.")

    def list_compute_hosts(self) -> list[ComputeHost]:
        with MemoryCloud._lock:
            self._enter("list_compute_hosts")
            if not self.admin:
                raise Forbidden("Policy doesn't allow os_compute_api:os-services:list to be performed.")
            return list(self.cloud.compute_hosts.values())

    def get_quotas(self) -> ServerGroupQuotas:
        with MemoryCloud._lock:
            self._enter("get_quotas")
            return ServerGroupQuotas(self.cloud.quota, self.cloud.member_quota, len(self.cloud.groups))

    def set_quotas(
        self, project_id: str, *, server_groups: int | None = None, server_group_members: int | None = None
    ) -> ServerGroupQuotas:
        with MemoryCloud._lock:
            self._enter("set_quotas")
            if not self.admin:
                raise Forbidden("Policy doesn't allow os_compute_api:os-quota-sets:update to be performed.")
            target = MemoryCloud.project(self.auth_url, project_id)
            given = {"server_groups": server_groups, "server_group_members": server_group_members}
            given = {name: value for name, value in given.items() if value is not None}
            for name, value in given.items():
                _validate_quota(name, value)
            used = {"server_groups": len(target.groups), "server_group_members": 0}
            for name, value in given.items():  # Nova counts members per group, not per project: 0 here
                if value != UNLIMITED and value < used[name]:
                    raise BadRequest(
                        f"Quota limit {value} for {name} must be greater than or equal to already used and "
                        f"reserved {used[name]}."
                    )
            target.quota = given.get("server_groups", target.quota)
            target.member_quota = given.get("server_group_members", target.member_quota)
            return ServerGroupQuotas(target.quota, target.member_quota)


def _validate_quota(name: str, value: int) -> None:
    """Nova's schema for a quota value: an integer from -1 to its largest, with its messages."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"Invalid input for field/attribute {name}. Value: {value}. {value!r} is not valid")
    if value < UNLIMITED:
        raise BadRequest(
            f"Invalid input for field/attribute {name}. Value: {value}. {value} is less than the minimum of -1"
        )
    if value > QUOTA_MAX:
        raise BadRequest(
            f"Invalid input for field/attribute {name}. Value: {value}. {value} is greater than the maximum of "
            f"{QUOTA_MAX}"
        )


def _invalid_state(action: str, server: _Server) -> Conflict:
    vm_state = VM_STATES.get(server.status, server.status.lower())
    return Conflict(f"Cannot '{action}' instance {server.id} while it is in vm_state {vm_state}")


def _now() -> str:
    """The time as Nova writes a record's `created_at` (UTC, no zone)."""
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def _default_hosts() -> dict[str, ComputeHost]:
    return {name: ComputeHost(name) for name in DEFAULT_HOSTS}


def _not_found_message(group_id: str) -> str:
    return f"Instance group {group_id} could not be found."


def _validate_request(name: str, policy: str, rules: Mapping[str, int]) -> None:
    """Nova's request schema for a 2.64 create, in its order (name, policy, rules), with its messages."""
    if refused_character(name):
        raise BadRequest(INVALID_NAME)
    if not name:
        raise BadRequest(f"Invalid input for field/attribute name. Value: {name}. {name!r} should be non-empty")
    if len(name) > NAME_MAX_LENGTH:
        raise BadRequest(f"Invalid input for field/attribute name. Value: {name}. {name!r} is too long")
    if policy not in POLICIES:
        raise BadRequest(
            f"Invalid input for field/attribute policy. Value: {policy}. {policy!r} is not one of "
            "['anti-affinity', 'affinity', 'soft-anti-affinity', 'soft-affinity']"
        )
    unexpected = sorted(set(rules) - {"max_server_per_host"})
    if unexpected:
        listed = ", ".join(repr(key) for key in unexpected)
        verb = "was" if len(unexpected) == 1 else "were"
        raise BadRequest(
            f"Invalid input for field/attribute rules. Value: {dict(rules)}. "
            f"Additional properties are not allowed ({listed} {verb} unexpected)"
        )
    limit = rules.get("max_server_per_host", 1)
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise BadRequest(f"Invalid input for field/attribute max_server_per_host. Value: {limit}.")
    if limit < 1:
        raise BadRequest(
            f"Invalid input for field/attribute max_server_per_host. Value: {limit}. "
            f"{limit} is less than the minimum of 1"
        )
