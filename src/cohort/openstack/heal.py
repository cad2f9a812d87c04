"""Mending placement: a group's plan (`cohort.openstack.placement.plan`) carried out one move at a time
through Nova's own scheduler.

A heal is asked for by staff (`POST .../heal/`, `services.server_group_heal`) or by reconciliation,
on a cloud whose `auto_heal` is on. `begin_heal` writes a `Heal` row and moves the group to
UPDATE_SCHEDULED in one transaction, so the heal is durable work like any other step
(`cohort.core.intent`): a worker that claims the
group's lease runs `advance_heal`, which does one thing and gives the lease back (the group stays in
UPDATING between moves, so a client that waits for OK waits for the whole heal):

- with a move in flight, it asks Nova how that move is going: still running (wait a little), a cold
  migration waiting in VERIFY_RESIZE (confirm it), on a new host (the move is done), or back where it
  was (the move failed: stop with Nova's words);
- otherwise it refreshes the members' facts from Nova, re-judges the verdict and re-plans: satisfied
  ends the heal; a verdict worse than before the last move, or a plan no shorter, stops it; else the
  first move of the new plan whose server the original plan named is re-read from Nova (a server gone,
  already elsewhere, or no longer ACTIVE or SHUTOFF is skipped) and sent: a live migration for an
  ACTIVE server, a cold one (confirmed later) for a SHUTOFF one, with no host, so that the scheduler
  picks one that honours the group, except to join the affinity policies' majority host, which the
  scheduler still checks.

The move in flight is written before Nova is asked and marked sent after, so a worker killed at any
point is followed by one that finds out from Nova whether the move happened: no server is moved
twice, and none the plan did not name. Every ending (done, or stopped early for any reason: Nova's
refusal, no valid host, a move past `HEAL_MOVE_TIMEOUT_SECONDS`, an unreachable cloud after
`STEP_ATTEMPTS` tries) returns the group to OK (the group itself is fine in Nova) and records why in
the `Heal` row (the report's `last_heal`) and the event log. At most `HEAL_CONCURRENCY` moves run
against one cloud at once.

Moving servers is a cloud admin's act in Nova's default policy: the engine uses the cloud's own
registered credentials (`admin_cloud_for`), never a tenant's.
"""

from __future__ import annotations

import logging
import traceback
from datetime import UTC, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from cohort.cloud import CloudDriver, CloudError, NotFound, RemoteServer, Unreachable
from cohort.core import claims, intent
from cohort.core.batches import chunks
from cohort.core.errors import Conflict
from cohort.core.states import InvalidState, State, move
from cohort.events.services import event_record
from cohort.events.types import EventType
from cohort.metrics.instruments import heal_duration, heal_moves
from cohort.openstack.clouds import admin_cloud_for, cloud_for
from cohort.openstack.models import Heal, Instance, ServerGroup
from cohort.openstack.placement import (
    DELETED_STATUSES,
    MOVABLE_STATUSES,
    Member,
    Plan,
    auto_heal_paused_until,
    compute_hosts,
    host_id_of,
    host_label,
    plan,
    refresh_placement,
)

logger = logging.getLogger(__name__)

Status = ServerGroup.PlacementStatus
BROKEN = (Status.DEGRADED, Status.VIOLATED)
WORSE = {Status.SATISFIED: 0, Status.PENDING: 0, Status.EMPTY: 0, Status.DEGRADED: 1, Status.VIOLATED: 2}
HEALING = frozenset({State.UPDATE_SCHEDULED, State.UPDATING})
POLL_SECONDS = 1.0  # between looks at a move in flight
BUSY_CLOUD_SECONDS = 3.0  # before trying again when the cloud already runs HEAL_CONCURRENCY moves
MIGRATING_STATUSES = frozenset({"MIGRATING", "RESIZE"})


# --- the plan of a group, as the engine and the request see it ---------------------------------------------


class Facts:
    """A group's members as its records say, with the cloud's hosts as its registered credentials see
    them (names where they may list hosts), and the plan that follows."""

    def __init__(self, group: ServerGroup, *, fresh: bool = True):
        self.group = group
        rows = list(
            Instance.objects.filter(server_group=group)
            .exclude(status__in=DELETED_STATUSES)
            .values_list("uuid", "backend_id", "name", "status", "host_id", "created")
        )
        self.backend_ids = {uuid.hex: backend_id for uuid, backend_id, *_ in rows}
        self.members = [
            Member(status, host_id, uuid.hex, name, created.timestamp())
            for uuid, _, name, status, host_id, created in rows
        ]
        hosts = compute_hosts(group.tenant, fresh=fresh)
        self.names: dict[str, str] = {}
        self.enabled: set[str] | None = None
        if hosts is not None:
            project = group.tenant.backend_id
            self.names = {host_id_of(project, host.name): host.name for host in hosts}
            self.enabled = {host_id_of(project, host.name) for host in hosts if host.available}

    def shown(self, host_id: str) -> str:
        return self.names.get(host_id) or host_label(host_id)

    def plan(self) -> Plan:
        group = self.group
        return plan(group.policy, group.rules, self.members, enabled_host_ids=self.enabled, host_names=self.names)


def planned_moves(facts: Facts, mending: Plan) -> list[dict]:
    """The moves of `mending` as a heal keeps them (and `dry_run` shows them, host names for staff)."""
    return [
        {
            "instance": move.member.uuid,
            "server": facts.backend_ids.get(move.member.uuid, ""),
            "name": move.member.name,
            "from": facts.shown(move.from_host_id),
            "to": facts.names.get(move.to_host_id, "") if move.to_host_id else "",
            "reason": move.reason,
        }
        for move in mending.moves
    ]


# --- asking for a heal ----------------------------------------------------------------------------------------


def heal_refusal(group: ServerGroup, facts: Facts, mending: Plan) -> str | None:
    """Why `group` cannot be healed now (the 409's words), or None."""
    if group.state != State.OK:
        return f"The server group is {State(group.state).label}: only a group in OK can be healed."
    if group.placement_status not in BROKEN:
        return f"Placement is {group.placement_status}: there is nothing to mend."
    if mending.blocked:
        return f"The plan is blocked: {mending.blocked}."
    if not mending.moves:
        return "The plan has no move: there is nothing to mend."
    return None


def begin_heal(*, group: ServerGroup, actor=None, automatic: bool = False) -> Heal:
    """Write a heal of `group`: a `Heal` row and UPDATE_SCHEDULED with its work due, in one
    transaction (the caller sends the message that starts it sooner, if it may: a worker's
    reconciliation leaves it to the sweep). `Conflict` (409) when the group is not OK, has nothing to
    mend, or its plan is blocked."""
    facts = Facts(group, fresh=not automatic)
    mending = facts.plan()
    refusal = heal_refusal(group, facts, mending)
    if refusal:
        raise Conflict(refusal)
    planned = planned_moves(facts, mending)
    who = "reconciliation (auto-heal)" if automatic else f"{actor}"
    try:
        with transaction.atomic():
            move(group, State.UPDATE_SCHEDULED, sources={State.OK}, **intent.scheduled())
            heal = Heal.objects.create(
                group=group,
                requested_by=actor if getattr(actor, "pk", None) else None,
                automatic=automatic,
                planned=planned,
                verdict=group.placement_status,
                remaining=len(planned),
            )
            event_record(
                event_type=EventType.OPENSTACK_SERVER_GROUP_HEAL_REQUESTED,
                message=f"Heal of server group {group.name} has been requested by {who}: "
                f"{_count(len(planned), 'move')} planned.",
                scope=group,
                actor=actor,
                context={"automatic": automatic, "plan": [public_move(entry) for entry in planned]},
            )
    except InvalidState:
        raise Conflict("The server group is no longer OK: another request changed it first.") from None
    except IntegrityError:  # a heal of this group already runs (the database's constraint decided)
        raise Conflict("A heal of this server group is already running.") from None
    logger.info("server group %s: heal of %d move(s) requested by %s", group.uuid.hex, len(planned), who)
    return heal


# --- carrying it out ------------------------------------------------------------------------------------------


def running_heal(group: ServerGroup) -> Heal | None:
    return Heal.objects.filter(group=group, finished__isnull=True).first()


def advance_heal(group: ServerGroup, heal: Heal, lease: intent.Lease) -> None:
    """One step of `heal` (see the module's docstring); never raises: a failure stops the heal."""
    try:
        move(group, State.UPDATING, sources=HEALING, guard=lease.guard)
    except InvalidState:
        return  # settled by staff meanwhile, or another worker took over
    try:
        _step(group, heal, lease)
    except Unreachable as error:
        if lease.attempt < settings.STEP_ATTEMPTS:
            delay = intent.backoff(lease.attempt)
            logger.warning("server group %s: heal step failed (%s); again in %.0f s", group.pk, error.message, delay)
            lease.release(retry_in=delay)
        else:
            _finish(group, heal, lease, f"The cloud did not answer: {error.message}")
    except CloudError as error:
        _finish(group, heal, lease, error.message)
    except Exception as error:
        logger.exception("server group %s: heal step failed", group.pk)
        _finish(group, heal, lease, f"{type(error).__name__}: {error}", trace=traceback.format_exc())


def _step(group: ServerGroup, heal: Heal, lease: intent.Lease) -> None:
    admin = admin_cloud_for(group.tenant)
    if admin is None:
        _finish(group, heal, lease, "The cloud has no registered credentials of its own to move servers with.")
        return
    if heal.moving:
        if not _follow(group, heal, admin, lease):
            return  # still moving (the lease is given back for a while), or the heal stopped
    _refresh_members(group, admin)
    facts = Facts(group)
    verdict = group.placement_status
    if verdict not in BROKEN:
        _finish(group, heal, lease, "")
        return
    mending = facts.plan()
    if heal.moves_done and (WORSE[verdict] > WORSE.get(heal.verdict, 2) or len(mending.moves) >= heal.remaining):
        last = heal.moves[-1]["server"]["name"] if heal.moves else "the last server"
        _finish(group, heal, lease, f"Moving {last} did not bring the group closer to satisfied (now {verdict}).")
        return
    if mending.blocked:
        _finish(group, heal, lease, f"The plan is blocked: {mending.blocked}")
        return
    named = {entry["instance"] for entry in heal.planned}
    step = next((m for m in mending.moves if m.member.uuid in named), None)
    if step is None:
        _finish(group, heal, lease, "What is left to move was not in the plan the heal was asked for: ask again.")
        return
    server_id = facts.backend_ids[step.member.uuid]
    try:
        server = admin.get_server(server_id)
    except NotFound:
        server = None
    if server is None or server.status.upper() not in MOVABLE_STATUSES or server.host_id != step.from_host_id:
        why = "gone" if server is None else f"{server.status} on {server.host or 'no host'}"
        _finish(group, heal, lease, f"{step.member.called} changed since the plan was made ({why}): ask again.")
        return
    if not _hold_move_slot(group, heal):  # the cloud runs HEAL_CONCURRENCY moves of other groups
        lease.release(retry_in=BUSY_CLOUD_SECONDS)
        return
    target = facts.names.get(step.to_host_id) if step.to_host_id else None
    _send(group, heal, admin, server, step.member.called, target, verdict, len(mending.moves), lease)


def _send(group, heal, admin: CloudDriver, server: RemoteServer, name, target, verdict, remaining, lease) -> None:
    kind = "live" if server.status.upper() == "ACTIVE" else "cold"
    now = timezone.now()
    where = server.host or server.host_id  # its name where these credentials may see it
    in_flight = {"moving": server.id, "moving_name": name, "moving_from": where, "moving_kind": kind,
                 "moving_since": now, "moving_sent": False, "verdict": verdict, "remaining": remaining}  # fmt: skip
    if not _write(heal, lease, **in_flight):
        return
    logger.info("server group %s: %s migration of %s off %s", group.pk, kind, name, where)
    try:
        if kind == "live":
            admin.live_migrate_server(server.id, host=target)
        else:
            admin.migrate_server(server.id, host=target)
    except Unreachable:
        raise  # it may have reached Nova: the next step finds out from Nova
    except CloudError as error:
        _record_move(group, heal, outcome="failed", to="", message=error.message)
        _finish(group, heal, lease, f"Nova refused to move {name} off {where}: {error.message}")
        return
    _write(heal, lease, moving_sent=True)
    lease.release(retry_in=POLL_SECONDS)


def _follow(group: ServerGroup, heal: Heal, admin: CloudDriver, lease: intent.Lease) -> bool:
    """Look at the move in flight. True once it is over and succeeded (or never reached Nova)."""
    try:
        server = admin.get_server(heal.moving)
    except NotFound:
        _record_move(group, heal, outcome="skipped", to="", message="The server was deleted while it moved.")
        return True
    if server.status.upper() == "VERIFY_RESIZE":  # a cold migration that arrived: confirm it
        admin.confirm_server_migration(server.id)
        lease.release(retry_in=POLL_SECONDS)
        return False
    if server.task_state or server.status.upper() in MIGRATING_STATUSES:
        waited = (timezone.now() - heal.moving_since).total_seconds()
        if waited > settings.HEAL_MOVE_TIMEOUT_SECONDS:
            message = f"The move of {heal.moving_name} did not finish within {settings.HEAL_MOVE_TIMEOUT_SECONDS} s."
            _record_move(group, heal, outcome="failed", to="", message=message)
            _finish(group, heal, lease, message)
            return False
        _hold_move_slot(group, heal)  # still its own: pushed ahead while the move runs
        lease.release(retry_in=POLL_SECONDS)
        return False
    if (server.host or server.host_id) not in ("", heal.moving_from):
        _record_move(group, heal, outcome="succeeded", to=server.host or server.host_id)
        return True
    # Back on (or still on) its host, and no task: the move failed, or never reached Nova.
    since = heal.moving_since
    tried = [m for m in admin.list_server_migrations(server.id) if _after(m.created, since)]
    if not tried and not heal.moving_sent:
        _write(heal, lease, moving="", moving_name="", moving_from="", moving_kind="", moving_since=None)
        return True  # the worker died before Nova heard of it: plan and send again
    failure = admin.move_failure(server.id) or "Nova left the server where it was."
    message = f"Nova could not move {heal.moving_name} off {heal.moving_from}: {failure}"
    _record_move(group, heal, outcome="failed", to="", message=failure)
    _finish(group, heal, lease, message)
    return False


def _after(created: str, since) -> bool:
    """Whether Nova's `created` (ISO 8601, UTC, maybe without its zone) is not before `since`, less a
    second (Nova keeps whole seconds)."""
    when = parse_datetime(created.replace("Z", "+00:00")) if created else None
    if when is None:
        return True  # cannot tell: count it
    if timezone.is_naive(when):
        when = timezone.make_aware(when, UTC)
    return when >= since - timedelta(seconds=1)


def _refresh_members(group: ServerGroup, admin: CloudDriver) -> None:
    """The group's members as Nova says now (membership with the tenant's credentials, each server
    with the cloud's), written onto their records, and the verdict judged again."""
    remote = cloud_for(group.tenant).get_server_group(group.backend_id)
    servers = {}
    for server_id in remote.members:
        try:
            servers[server_id] = admin.get_server(server_id)
        except NotFound:
            servers[server_id] = None
    with transaction.atomic():  # the facts, the verdict and its event together
        _write_members(group, remote.members, servers)


def _write_members(group: ServerGroup, members, servers: dict) -> None:
    rows = {
        backend_id: pk for pk, backend_id in Instance.objects.filter(server_group=group).values_list("pk", "backend_id")
    }
    for server_id in members:
        server = servers[server_id]
        if server is None:  # deleted meanwhile
            Instance.objects.filter(pk=rows.get(server_id)).delete()
            continue
        fields = {"status": server.status, "host_id": server.host_id, "fault_message": server.fault_message}
        if server_id in rows:
            Instance.objects.filter(pk=rows[server_id]).update(modified=timezone.now(), **fields)
        else:
            Instance.objects.create(tenant=group.tenant, backend_id=server_id, name=server.name, server_group=group,
                                    seen_at=timezone.now(), **fields)  # fmt: skip
    gone = set(rows) - set(members)
    Instance.objects.filter(server_group=group, backend_id__in=gone).update(server_group=None)
    group.refresh_from_db(fields=["placement_status", "placement_checked_at"])
    refresh_placement([group])


def _move_slots(group: ServerGroup) -> list[str]:
    return claims.cloud_slots(group.tenant.service_settings_id, "move", settings.HEAL_CONCURRENCY)


def _hold_move_slot(group: ServerGroup, heal: Heal) -> bool:
    """Take (or keep) one of the cloud's `HEAL_CONCURRENCY` move slots for `heal`: held by the heal,
    not by a worker, from before the move is sent until it is over (a worker that dies meanwhile leaves
    it to the next, which follows the same move). A heal nobody follows any more (every worker gone)
    frees it after the move's timeout."""
    seconds = settings.HEAL_MOVE_TIMEOUT_SECONDS + 2 * settings.LEASE_SECONDS
    return claims.take_one_of(_move_slots(group), f"heal-{heal.pk}", seconds) is not None


def _free_move_slot(group: ServerGroup, heal: Heal) -> None:
    claims.release(_move_slots(group), f"heal-{heal.pk}")


def _write(heal: Heal, lease: intent.Lease, **fields) -> bool:
    """Write `fields` on the running heal, only while the group's lease is ours."""
    held = ServerGroup.objects.filter(pk=heal.group_id, **lease.guard)
    updated = Heal.objects.filter(pk=heal.pk, finished__isnull=True, group__in=held).update(**fields)
    for name, value in fields.items():
        setattr(heal, name, value)
    return bool(updated)


def _record_move(group: ServerGroup, heal: Heal, *, outcome: str, to: str, message: str = "") -> None:
    seconds = round((timezone.now() - heal.moving_since).total_seconds(), 1) if heal.moving_since else None
    instance = Instance.objects.filter(tenant=group.tenant, backend_id=heal.moving).values_list("uuid", flat=True)
    entry = {
        "server": {"uuid": instance[0].hex if instance else "", "name": heal.moving_name},
        "from": heal.moving_from,
        "to": to,
        "kind": heal.moving_kind,
        "seconds": seconds,
        "outcome": outcome,
        "message": message,
    }
    done = heal.moves_done + (outcome == "succeeded")
    with transaction.atomic():
        Heal.objects.filter(pk=heal.pk).update(
            moves=[*heal.moves, entry], moves_done=done, moving="", moving_name="", moving_from="",
            moving_kind="", moving_since=None, moving_sent=False,
        )  # fmt: skip
        words = {"succeeded": f"moved from {entry['from']} to {to}", "failed": f"not moved from {entry['from']}"}
        event_record(
            event_type=EventType.OPENSTACK_SERVER_GROUP_HEAL_MOVE_SUCCEEDED
            if outcome == "succeeded"
            else EventType.OPENSTACK_SERVER_GROUP_HEAL_MOVE_FAILED,
            message=f"Heal of server group {group.name}: {heal.moving_name} "
            f"{words.get(outcome, 'skipped')} ({heal.moving_kind} migration, {seconds} s)"
            + (f": {message}" if message else "."),
            scope=group,
            context=entry,
        )
    heal.moves, heal.moves_done = [*heal.moves, entry], done
    heal.moving = heal.moving_name = heal.moving_from = heal.moving_kind = ""
    heal.moving_since, heal.moving_sent = None, False
    _free_move_slot(group, heal)
    heal_moves.labels(outcome).inc()


def _finish(group: ServerGroup, heal: Heal, lease: intent.Lease, why: str, trace: str = "") -> None:
    """End the heal (`why` empty: it mended the group) and return the group to OK."""
    now = timezone.now()
    try:
        with transaction.atomic():
            move(group, State.OK, sources=HEALING, guard=lease.guard, error_message="", error_traceback="",
                 **intent.settled())  # fmt: skip
            Heal.objects.filter(pk=heal.pk).update(finished=now, stopped_because=why)
            done = _count(heal.moves_done, "move")
            if why:
                event_record(
                    event_type=EventType.OPENSTACK_SERVER_GROUP_HEAL_STOPPED,
                    message=f"Heal of server group {group.name} stopped after {done}: {why}",
                    scope=group,
                    context={"moves_done": heal.moves_done, "stopped_because": why},
                )
            else:
                event_record(
                    event_type=EventType.OPENSTACK_SERVER_GROUP_HEAL_SUCCEEDED,
                    message=f"Heal of server group {group.name} has succeeded: {done}, placement is satisfied.",
                    scope=group,
                    context={"moves_done": heal.moves_done},
                )
    except InvalidState:
        return  # settled by staff meanwhile, or another worker took over
    _free_move_slot(group, heal)
    if trace:
        logger.error("server group %s: heal stopped: %s\n%s", group.pk, why, trace)
    heal_duration.labels("stopped" if why else "succeeded").observe((now - heal.started).total_seconds())
    logger.info("server group %s: heal %s after %d move(s)%s", group.pk, "stopped" if why else "succeeded",
                heal.moves_done, f": {why}" if why else "")  # fmt: skip


# --- by itself: reconciliation on a cloud whose auto-heal is on ---------------------------------------------


def heal_broken_groups(groups: list[ServerGroup]) -> int:
    """For reconciliation: record which of `groups` (a tenant's, just judged) have a blocked plan, and
    on a cloud with auto-heal on, ask for a heal of each broken one that can be mended. Returns how
    many heals it asked for."""
    asked = 0
    broken = [g for g in groups if g.placement_status in BROKEN]
    for part in chunks([g.pk for g in groups if g.placement_status not in BROKEN and g.plan_blocked]):
        ServerGroup.objects.filter(pk__in=part).update(plan_blocked=None)  # judged fine: nothing to block
    for group in broken:
        facts = Facts(group, fresh=False)  # the cloud's hosts once a minute, however many groups
        mending = facts.plan()
        blocked = bool(mending.blocked)
        if blocked != group.plan_blocked:
            ServerGroup.objects.filter(pk=group.pk).update(plan_blocked=blocked)
        if not group.tenant.service_settings.auto_heal or heal_refusal(group, facts, mending):
            continue
        if auto_heal_paused_until(group):
            logger.info("server group %s broke again within an hour of its last heal: not healed by itself", group.pk)
            continue
        try:
            begin_heal(group=group, automatic=True)  # the sweep starts it within seconds
            asked += 1
        except Conflict as refusal:
            logger.info("server group %s: no auto-heal: %s", group.pk, refusal)
    return asked


def public_move(entry: dict) -> dict:
    """A planned move as the report shows it (`server`, `from`, `reason`)."""

    return {
        "server": {"uuid": entry["instance"], "name": entry["name"]},
        "from": entry["from"],
        "reason": entry["reason"],
    }


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")
