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

`plan` says what would mend a degraded or violated group: the fewest moves (which member leaves which
host, and why), or why no move can (`blocked`: what a person can do). It is a pure function of the
same facts plus the enabled hosts, shared by the report, the page and the heal engine. Which member
leaves a crowded host: one already failing (in ERROR on that host) first; then one Nova can migrate
(ACTIVE or SHUTOFF) before one it cannot; then the newest, by the time Cohort recorded the server
(ties: the greater uuid). The member that stays is so the longest-lived healthy one.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from cohort.cloud import CloudError, ComputeHost
from cohort.core.batches import chunks
from cohort.events.services import event_record
from cohort.events.types import EventType
from cohort.openstack.clouds import admin_cloud_for
from cohort.openstack.models import Heal, Instance, ServerGroup, Tenant

logger = logging.getLogger(__name__)

Status = ServerGroup.PlacementStatus
LABEL_LENGTH = 8
DELETED_STATUSES = frozenset({"DELETED", "SOFT_DELETED"})
FAILED_STATUS = "ERROR"
MOVABLE_STATUSES = frozenset({"ACTIVE", "SHUTOFF"})  # what Nova live- or cold-migrates
# Nova's statuses of a server in the middle of a task: it is ACTIVE or SHUTOFF again when the task ends
BUSY_STATUSES = frozenset({"BUILD", "REBUILD", "MIGRATING", "RESIZE", "VERIFY_RESIZE", "REBOOT", "HARD_REBOOT"})
HOSTS_CACHE_SECONDS = 60.0  # how long one cloud's compute hosts are reused between calls


@dataclass(frozen=True)
class Member:
    """What the verdict needs of one member: Nova's status and host id ("" while unscheduled); and
    what the plan needs to name it and choose between members: its uuid, name, and when Cohort
    recorded it (seconds since the epoch)."""

    status: str
    host_id: str
    uuid: str = ""
    name: str = ""
    recorded: float = 0.0

    @property
    def called(self) -> str:
        return self.name or self.uuid


@dataclass(frozen=True)
class Move:
    """One move of a plan: `member` leaves the host `from_host_id`, for `reason` (words, naming hosts
    as the plan was asked to). `to_host_id` is "" where Nova's scheduler chooses the host (the
    anti-affinity policies), or the host to join (the affinity policies: the one holding most)."""

    member: Member
    from_host_id: str
    to_host_id: str
    reason: str


@dataclass(frozen=True)
class Plan:
    """What mends a group: `moves` in the order to make them, and `blocked`: None, or what a person
    must do first (then `moves` is empty where the cloud's hosts cannot hold the policy at all, or
    lists the moves that wait for a member Nova cannot migrate yet)."""

    moves: tuple[Move, ...] = ()
    blocked: str | None = None

    @property
    def actionable(self) -> bool:
        return bool(self.moves) and self.blocked is None


NOTHING_TO_DO = Plan()


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


def plan(
    policy: str,
    rules: Mapping[str, int] | None,
    members: Iterable[Member],
    *,
    enabled_host_ids: set[str] | None = None,
    host_names: Mapping[str, str] | None = None,
    shown: Callable[[str], str] | None = None,
) -> Plan:
    """The fewest moves that bring a group with `policy`, `rules` and `members` to `satisfied`, or
    why none can. Empty unless the verdict is `degraded` or `violated`.

    `enabled_host_ids`: the hosts Nova may place on (None where the cloud does not say: the plan is
    then not checked against them). `host_names`: the hosts' real names where known, which order the
    hosts (and break ties between them). `shown`: how the words name a host (by default its real
    name where known, else its label). Members without a host (being built, or failed) never move.
    """
    members = counted(members)
    if verdict(policy, rules, members) not in (Status.DEGRADED, Status.VIOLATED):
        return NOTHING_TO_DO
    host_names = host_names or {}
    shown = shown or (lambda host_id: host_names.get(host_id) or host_label(host_id))
    by_host: dict[str, list[Member]] = {}
    for member in members:
        if member.host_id:
            by_host.setdefault(member.host_id, []).append(member)
    placed = sum(len(here) for here in by_host.values())
    order = sorted(by_host, key=lambda host_id: (-len(by_host[host_id]), host_names.get(host_id, ""), host_id))
    crowded = {host_id: by_host[host_id] for host_id in order}
    if policy in (ServerGroup.Policy.ANTI_AFFINITY, ServerGroup.Policy.SOFT_ANTI_AFFINITY):
        moves, blocked = _spread(policy, rules, crowded, enabled_host_ids, shown, all_placed=len(members) == placed)
    else:
        moves, blocked = _gather(policy, crowded, enabled_host_ids, host_names, shown)
    if blocked:
        return Plan((), _with_unplaced(blocked, members))
    stuck = [move.member for move in moves if move.member.status.upper() not in MOVABLE_STATUSES]
    if stuck:
        return Plan(tuple(moves), _with_unplaced("; ".join(_unmovable(member) for member in stuck), members))
    return Plan(tuple(moves))


def leaving_order(members: Iterable[Member]) -> list[Member]:
    """`members` of one host, the first to leave first: failing (ERROR) ones, then those Nova can
    migrate, then the newest (by Cohort's record of the server, then uuid)."""
    newest_first = sorted(members, key=lambda m: (m.recorded, m.uuid), reverse=True)
    return sorted(
        newest_first,
        key=lambda m: (m.status.upper() != FAILED_STATUS, m.status.upper() not in MOVABLE_STATUSES),
    )


HostsMembers = dict[str, list[Member]]  # the placed members by host id, the most crowded host first
Naming = Callable[[str], str]


def _spread(
    policy: str,
    rules: Mapping[str, int] | None,
    by_host: HostsMembers,
    enabled_host_ids: set[str] | None,
    shown: Naming,
    *,
    all_placed: bool,
) -> tuple[list[Move], str | None]:
    """Anti-affinity (hard or soft): the excess of each host over its limit leaves, to wherever
    Nova's scheduler puts it; blocked where the enabled hosts' free places are too few for them."""
    hard = policy == ServerGroup.Policy.ANTI_AFFINITY
    limit = (rules or {}).get("max_server_per_host", 1) if hard else 1
    moves = []
    for host_id, here in by_host.items():
        leaving = leaving_order(here)[: max(0, len(here) - limit)]
        staying = [m for m in here if not any(m is gone for gone in leaving)]
        for member in leaving:
            if limit == 1:
                reason = f"shares {shown(host_id)} with {_names(staying)}"
            else:
                reason = f"{shown(host_id)} holds {len(here)}, max_server_per_host is {limit}"
            moves.append(Move(member, host_id, "", reason))
    if enabled_host_ids is None:
        return moves, None
    free = sum(max(0, limit - len(by_host.get(host_id, ()))) for host_id in enabled_host_ids)
    short = len(moves) - free
    if short <= 0:
        return moves, None
    enabled, placed = len(enabled_host_ids), sum(len(here) for here in by_host.values())
    hosts_needed = -(-short // limit)
    allows = f" allows {limit} per host and" if limit > 1 else ""
    counted_members = "members" if all_placed else "placed members"
    return [], (
        f"{enabled} {_plural(enabled, 'host')} {'is' if enabled == 1 else 'are'} enabled and this {policy} group"
        f"{allows} has {placed} {counted_members}: enable or add {_count(hosts_needed, 'host')}, "
        f"or remove {_count(short, 'member')}"
    )


def _gather(
    policy: str,
    by_host: HostsMembers,
    enabled_host_ids: set[str] | None,
    host_names: Mapping[str, str],
    shown: Naming,
) -> tuple[list[Move], str | None]:
    """Affinity (hard or soft): the members outside the host holding most join it. Ties: an enabled
    host, then the one with fewer failing members (so the failing one leaves), then by name."""

    def rank(host_id: str) -> tuple:
        here = by_host[host_id]
        disabled = enabled_host_ids is not None and host_id not in enabled_host_ids
        failing = sum(m.status.upper() == FAILED_STATUS for m in here)
        return (-len(here), disabled, failing, host_names.get(host_id, ""), host_id)

    target = min(by_host, key=rank)
    held, placed = len(by_host[target]), sum(len(here) for here in by_host.values())
    if enabled_host_ids is not None and target not in enabled_host_ids:
        return [], (
            f"{shown(target)} holds most of this {policy} group's members ({held} of {placed}) and is disabled: "
            f"enable it, so that the others can join it there, or move the members together by hand"
        )
    tied = sum(len(here) == held for here in by_host.values()) > 1
    outside = [m for host_id, here in by_host.items() if host_id != target for m in leaving_order(here)]
    if len(outside) == 1:
        why = f"outside {shown(target)}, where the group's other members are"
    elif tied:
        why = f"outside {shown(target)}, which holds as many of the group's members as any host ({held} of {placed})"
    else:
        why = f"outside {shown(target)}, which holds most of the group's members ({held} of {placed})"
    return [Move(m, m.host_id, target, why) for m in outside], None


def _unmovable(member: Member) -> str:
    status = member.status.upper() or "of no known status"
    if status == FAILED_STATUS:
        hint = "reset its state or rebuild it, or delete it"
    elif status in BUSY_STATUSES:
        hint = "wait until it is ACTIVE or SHUTOFF again"
    else:
        hint = "make it ACTIVE or SHUTOFF, or delete it"
    return f"{member.called} is {status} and Nova migrates only ACTIVE or SHUTOFF servers: {hint}"


def _with_unplaced(blocked: str, members: list[Member]) -> str:
    """`blocked`, and what to do about the members Nova never placed (they do not move)."""
    unplaced = [m for m in members if is_failed(m)]
    if not unplaced:
        return blocked
    verb = "was" if len(unplaced) == 1 else "were"
    return f"{blocked}; {_names(unplaced)} {verb} never placed (no valid host): rebuild or delete {_it(unplaced)}"


def _names(members: Sequence[Member]) -> str:
    names = [m.called for m in members]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _it(members: Sequence[Member]) -> str:
    return "it" if len(members) == 1 else "them"


def _plural(n: int, word: str) -> str:
    return word if n == 1 else f"{word}s"


def _count(n: int, word: str) -> str:
    return f"a {word}" if n == 1 else f"{n} {word}s"


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
            .values("server_group_id", "uuid", "name", "status", "host_id", "fault_message", "created")
        )
        for instance in instances:
            rows[instance["server_group_id"]].append(instance)
    heals = last_heals(groups) if rows else {}
    return [_report(group, rows[group.pk], staff=staff, heal=heals.get(group.pk)) for group in groups]


def _report(group: ServerGroup, instances: list[dict], *, staff: bool, heal: Heal | None = None) -> dict:
    members = [Member(i["status"], i["host_id"], i["uuid"].hex, i["name"], i["created"].timestamp()) for i in instances]
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

    def shown(host_id: str) -> str:
        return (names.get(host_id) if staff else None) or host_label(host_id)

    mending = NOTHING_TO_DO
    if group.placement_status in (Status.DEGRADED, Status.VIOLATED):
        mending = plan(group.policy, group.rules, members, enabled_host_ids=enabled_ids, host_names=names, shown=shown)
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
        "plan": [
            {
                "server": {"uuid": move.member.uuid, "name": move.member.name},
                "from": shown(move.from_host_id),
                "reason": move.reason,
            }
            for move in mending.moves
        ],
        "blocked": mending.blocked,
        "last_heal": last_heal_report(group, heal, staff=staff),
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


def compute_hosts(tenant: Tenant, *, fresh: bool = False) -> list[ComputeHost] | None:
    """The compute hosts of `tenant`'s cloud as its registered credentials see them, or None where
    those credentials may not list them (or the cloud did not answer). Cached per cloud; `fresh` asks
    the cloud (the heal engine, which is about to move servers), and caches what it says."""

    key = (tenant.service_settings_id, tenant.service_settings.modified.isoformat())
    found, hosts = hosts_cache.get(key)
    if found and not fresh:
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


# --- what the report says of the heal engine (`cohort.openstack.heal`) ---------------------------------------


def auto_heal_paused_until(group: ServerGroup, heals: list[Heal] | None = None):
    """Until when reconciliation leaves `group` alone: an hour after a heal of it that succeeded, if it
    broke again since (no flapping); else None."""
    window = timedelta(seconds=settings.HEAL_FLAP_WINDOW_SECONDS)
    latest = heals[0] if heals else Heal.objects.filter(group=group).order_by("-started").first()
    if latest is None or latest.finished is None or latest.stopped_because:
        return None
    until = latest.finished + window
    return until if until > timezone.now() else None


def last_heals(groups) -> dict[int, Heal]:
    """The latest heal of each of `groups` (one query)."""
    latest: dict[int, Heal] = {}
    for heal in Heal.objects.filter(group__in=[g.pk for g in groups]).order_by("group_id", "-started", "-pk"):
        latest.setdefault(heal.group_id, heal)
    return latest


def last_heal_report(group: ServerGroup, heal: Heal | None, *, staff: bool) -> dict | None:
    if heal is None:
        return None
    broken = group.placement_status in (Status.DEGRADED, Status.VIOLATED)
    paused = auto_heal_paused_until(group, [heal]) if broken else None

    def when(value):
        return value.isoformat().replace("+00:00", "Z") if value else None

    return {
        "started": when(heal.started),
        "finished": when(heal.finished),
        "moves_done": heal.moves_done,
        "stopped_because": heal.stopped_because or None,
        "automatic": heal.automatic,
        "moves": [_shown_move(move, staff) for move in heal.moves],
        "auto_heal_paused_until": when(paused),
    }


def _shown_move(entry: dict, staff: bool) -> dict:
    """A move as the report shows it: host names for staff only (others see that it moved)."""
    hosts = {"from": entry["from"], "to": entry["to"]} if staff else {"from": None, "to": None}
    return {
        "server": entry["server"],
        **hosts,
        "kind": entry["kind"],
        "seconds": entry["seconds"],
        "outcome": entry["outcome"],
        "message": entry["message"] if staff else ("" if entry["outcome"] == "succeeded" else "The move failed."),
    }
