"""Does a server group's placement hold? The verdict, its report, and the host names staff may see.

Nova enforces the hard policies only when a server boots, and the soft ones never exclude a host, so
the members' hosts are the only truth. `verdict` judges them (a pure function of the policy, the
rules and each member's status and host id); `refresh_placement` stores it on each group whenever a
pull has refreshed its members' facts, and records every change as an event (`placement_changed`);
`placement_report` is what `GET /api/openstack-server-groups/{uuid}/placement/` answers.

The verdicts:
- `empty`: no member (deleted servers do not count);
- `violated`: a hard policy is broken: anti-affinity with more members on one host than
  `max_server_per_host` allows (default 1), or affinity with members on more than one host;
- `degraded`: a soft policy is not honoured: soft-anti-affinity with two members on one host, or
  soft-affinity spread over several hosts;
- `pending`: otherwise, while some member has no host yet and is not failed (it is being built);
- `satisfied`: otherwise.
A member in ERROR without a host is failed, not placed: it is listed with Nova's fault, and does not
count against the policy (Nova refused to place it). A violation is reported even while other
members are still being built: it will not heal by itself.

Host ids are Nova's `hostId`: SHA-224 of the project id and the host name, so the same host has a
different id in each project. Tenant users see a short label of it (its first 8 characters); staff
see the host name, where the cloud's registered credentials may list compute services
(`ComputeHost`, an admin's right). Those credentials also give `enabled_hosts` (enabled and up
compute hosts) and `room`: how many more members the group can take without breaking its policy
(for anti-affinity, the free places under `max_server_per_host` on enabled hosts; for
soft-anti-affinity, the enabled hosts holding no member; null for the affinity policies, whose limit
is a host's capacity). Where the credentials cannot list hosts (403), or the cloud does not answer
in time, those are null, never an error. The tenant's `server_group_member_count` quota bounds `room`
too (Nova refuses a boot into a full group): `room` is the smaller of the two, and `room_limited_by`
says which (`hosts`, `quota` on a tie too, as Nova refuses that boot outright; null when neither is known).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from django.utils import timezone

from cohort.cloud import CloudError, ComputeHost
from cohort.core.batches import chunks
from cohort.events.services import event_record
from cohort.events.types import EventType
from cohort.openstack.clouds import admin_cloud_for
from cohort.openstack.models import Instance, ServerGroup, Tenant

logger = logging.getLogger(__name__)

Status = ServerGroup.PlacementStatus
LABEL_LENGTH = 8
DELETED_STATUSES = frozenset({"DELETED", "SOFT_DELETED"})
FAILED_STATUS = "ERROR"
HOSTS_CACHE_SECONDS = 60.0  # how long one cloud's compute hosts are reused between calls


@dataclass(frozen=True)
class Member:
    """What the verdict needs of one member: Nova's status and host id ("" while unscheduled)."""

    status: str
    host_id: str


def counted(members: Iterable[Member]) -> list[Member]:
    """The members that count: deleted servers do not."""
    return [m for m in members if m.status.upper() not in DELETED_STATUSES]


def is_failed(member: Member) -> bool:
    return not member.host_id and member.status.upper() == FAILED_STATUS


def verdict(policy: str, rules: Mapping[str, int] | None, members: Iterable[Member]) -> str:
    """The placement verdict of a group with `policy` and `rules` whose members are `members`."""
    members = counted(members)
    if not members:
        return Status.EMPTY
    per_host = Counter(m.host_id for m in members if m.host_id)
    most = max(per_host.values(), default=0)
    if policy == ServerGroup.Policy.ANTI_AFFINITY:
        broken = most > (rules or {}).get("max_server_per_host", 1)
    elif policy == ServerGroup.Policy.AFFINITY:
        broken = len(per_host) > 1
    elif policy == ServerGroup.Policy.SOFT_ANTI_AFFINITY:
        broken = most > 1
    else:  # soft-affinity
        broken = len(per_host) > 1
    if broken:
        soft = policy in (ServerGroup.Policy.SOFT_AFFINITY, ServerGroup.Policy.SOFT_ANTI_AFFINITY)
        return Status.DEGRADED if soft else Status.VIOLATED
    if any(not m.host_id and not is_failed(m) for m in members):
        return Status.PENDING
    return Status.SATISFIED


def room(policy: str, rules: Mapping[str, int] | None, members: Iterable[Member], enabled_host_ids: set[str]) -> int:
    """How many more members fit without breaking the policy, on the hosts `enabled_host_ids`; only
    meaningful for the anti-affinity policies (the caller gives None for the others)."""
    limit = (rules or {}).get("max_server_per_host", 1) if policy == ServerGroup.Policy.ANTI_AFFINITY else 1
    per_host = Counter(m.host_id for m in counted(members) if m.host_id)
    return sum(max(0, limit - per_host[host_id]) for host_id in enabled_host_ids)


def limited_room(policy_room: int | None, member_quota: int | None, members: int) -> tuple[int | None, str | None]:
    """`room` and `room_limited_by`: the policy's room on the hosts and the member quota's, whichever is
    smaller. Every member counts against the quota, failed ones too (Nova counts them); -1 or an
    unknown quota (None) bounds nothing."""
    quota_room = None if member_quota is None or member_quota < 0 else max(0, member_quota - members)
    if quota_room is not None and (policy_room is None or quota_room <= policy_room):
        return quota_room, "quota"
    return policy_room, "hosts" if policy_room is not None else None


def host_label(host_id: str) -> str:
    """What a tenant user sees of a host: a short, stable label of its per-project id."""
    return host_id[:LABEL_LENGTH]


def host_id_of(project_id: str, host: str) -> str:
    """Nova's `hostId` of `host` as seen from project `project_id`."""
    return hashlib.sha224((project_id + host).encode()).hexdigest()


def placement_changed(group: ServerGroup, old: str, new: str) -> None:
    """Record that `group`'s verdict went from `old` to `new`: an event, in the transaction that stores
    the verdict, and a log line (a warning when the placement stops holding)."""
    log = logger.warning if new in (Status.VIOLATED, Status.DEGRADED) else logger.info
    log("server group %s (%s): placement %s -> %s", group.uuid.hex, group.name, old, new)
    event_record(
        event_type=EventType.OPENSTACK_SERVER_GROUP_PLACEMENT_CHANGED,
        message=f"Placement of server group {group.name} went from {old} to {new}.",
        scope=group,
        changes={"placement_status": [old, new]},
    )


def refresh_placement(groups: Sequence[ServerGroup]) -> None:
    """Recompute and store the verdict of each of `groups` from its members' records, and log each
    change. A few statements per thousand groups: the members read in one, the groups whose verdict
    changed written by verdict, and the time of the check stamped on all in one."""
    if not groups:
        return
    members: dict[int, list[Member]] = {g.pk: [] for g in groups}
    for part in chunks(list(members)):
        rows = Instance.objects.filter(server_group__in=part).values_list("server_group_id", "status", "host_id")
        for group_id, status, host_id in rows:
            members[group_id].append(Member(status, host_id))
    now = timezone.now()
    changed: dict[str, list[int]] = {}
    for group in groups:
        new = verdict(group.policy, group.rules, members[group.pk])
        old = group.placement_status
        group.placement_status, group.placement_checked_at = new, now
        if new != old:
            placement_changed(group, old, new)
            changed.setdefault(new, []).append(group.pk)
    for status, pks in changed.items():
        for part in chunks(pks):
            ServerGroup.objects.filter(pk__in=part).update(placement_status=status)
    for part in chunks(list(members)):
        ServerGroup.objects.filter(pk__in=part).update(placement_checked_at=now)


def placement_report(*, group: ServerGroup, staff: bool) -> dict:
    """What `GET /api/openstack-server-groups/{uuid}/placement/` answers for `group`.

    `staff`: whether the caller may see host names. Hosts are columns of placed members (most
    members first); failed members are listed apart with Nova's fault, and members still being
    built (no host, not failed) under `waiting`.
    """
    return placement_reports([group], staff=staff)[0]


def placement_reports(groups: Sequence[ServerGroup], *, staff: bool) -> list[dict]:
    """`placement_report` of each of `groups`, in their order, with one query for all their members
    (a page of reports costs no more queries than one; load each group's tenant and cloud with it)."""
    rows: dict[int, list[dict]] = {group.pk: [] for group in groups}
    if rows:
        instances = (
            Instance.objects.filter(server_group__in=list(rows))
            .exclude(status__in=DELETED_STATUSES)
            .order_by("name", "pk")
            .values("server_group_id", "uuid", "name", "status", "host_id", "fault_message")
        )
        for instance in instances:
            rows[instance["server_group_id"]].append(instance)
    return [_report(group, rows[group.pk], staff=staff) for group in groups]


def _report(group: ServerGroup, instances: list[dict], *, staff: bool) -> dict:
    members = [Member(i["status"], i["host_id"]) for i in instances]
    hosts = compute_hosts(group.tenant)
    names = {}
    enabled_ids: set[str] | None = None
    if hosts is not None:
        ids = {host.name: host_id_of(group.tenant.backend_id, host.name) for host in hosts}
        names = {ids[host.name]: host.name for host in hosts}
        enabled_ids = {ids[host.name] for host in hosts if host.available}
    by_host: dict[str, list[dict]] = {}
    failed, waiting = [], []
    for instance, member in zip(instances, members, strict=True):
        entry = {"uuid": instance["uuid"].hex, "name": instance["name"], "status": instance["status"]}
        if member.host_id:
            by_host.setdefault(member.host_id, []).append(entry)
        elif is_failed(member):
            failed.append({**entry, "fault_message": instance["fault_message"]})
        else:
            waiting.append(entry)
    placed = sum(len(entries) for entries in by_host.values())
    largest = max((len(entries) for entries in by_host.values()), default=0)
    columns = sorted(by_host.items(), key=lambda item: (-len(item[1]), host_label(item[0]), item[0]))
    anti = group.policy in (ServerGroup.Policy.ANTI_AFFINITY, ServerGroup.Policy.SOFT_ANTI_AFFINITY)
    checked = group.placement_checked_at
    policy_room = room(group.policy, group.rules, members, enabled_ids) if anti and enabled_ids is not None else None
    free, limited_by = limited_room(policy_room, group.tenant.server_group_member_quota, len(instances))
    return {
        "placement_status": group.placement_status,
        "checked_at": checked.isoformat().replace("+00:00", "Z") if checked else None,
        "hosts": len(by_host),
        "largest_host_members": largest,
        "largest_host_share": round(largest / placed, 4) if placed else None,
        "by_host": [
            {"host": host_label(host_id), "host_name": names.get(host_id) if staff else None, "members": entries}
            for host_id, entries in columns
        ],
        "failed": failed,
        "waiting": waiting,
        "enabled_hosts": len(enabled_ids) if enabled_ids is not None else None,
        "room": free,
        "room_limited_by": limited_by,
    }


class _HostsCache:
    """Each cloud's compute hosts for `HOSTS_CACHE_SECONDS`, None included (the credentials cannot
    list them, or the cloud did not answer), so that a page of reports costs at most one call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple, tuple[float, list[ComputeHost] | None]] = {}

    def get(self, key: tuple) -> tuple[bool, list[ComputeHost] | None]:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] < time.monotonic():
                return False, None
            return True, entry[1]

    def put(self, key: tuple, hosts: list[ComputeHost] | None) -> None:
        with self._lock:
            now = time.monotonic()
            self._entries = {k: v for k, v in self._entries.items() if v[0] >= now}
            self._entries[key] = (now + HOSTS_CACHE_SECONDS, hosts)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


hosts_cache = _HostsCache()


def compute_hosts(tenant: Tenant) -> list[ComputeHost] | None:
    """The compute hosts of `tenant`'s cloud as its registered credentials see them, or None where
    those credentials may not list them (or the cloud did not answer). Cached per cloud."""

    key = (tenant.service_settings_id, tenant.service_settings.modified.isoformat())
    found, hosts = hosts_cache.get(key)
    if found:
        return hosts
    hosts = None
    try:
        driver = admin_cloud_for(tenant)
        if driver is not None:
            hosts = driver.list_compute_hosts()
    except CloudError as error:
        logger.info("cloud %s: compute hosts not listed: %s", tenant.service_settings, error.message)
    hosts_cache.put(key, hosts)
    return hosts
