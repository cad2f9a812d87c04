"""A group's placement as the page draws it: one column per host, a box per member coloured by its
status, the members still waiting for a host, and those that could not be placed, each with Nova's
fault.

It reads the placement report (`cohort.openstack.placement.placement_report`), which already decides
what the user may see: a host's name for staff, a short anonymous label for everyone else.
`placement_reports` makes the reports of a whole page of groups with one query for all their members
(the page's query count must not grow with its groups), from the placement module's own parts.
"""

from __future__ import annotations

from collections.abc import Sequence

from cohort.openstack.models import Instance, ServerGroup
from cohort.openstack.placement import (
    DELETED_STATUSES,
    Member,
    compute_hosts,
    host_id_of,
    host_label,
    is_failed,
    room,
)

# Nova's server statuses, by the colour the page gives them; any other status is drawn as "other".
STATUS_CLASSES = {
    "ACTIVE": "active",
    "BUILD": "building",
    "REBUILD": "building",
    "MIGRATING": "building",
    "RESIZE": "building",
    "VERIFY_RESIZE": "building",
    "REBOOT": "building",
    "HARD_REBOOT": "building",
    "ERROR": "error",
    "SHUTOFF": "off",
    "SUSPENDED": "off",
    "PAUSED": "off",
    "SHELVED": "off",
    "SHELVED_OFFLOADED": "off",
    "STOPPED": "off",
}
VERDICT_TEXT = {
    "empty": "No members yet.",
    "pending": "Some members have no host yet.",
    "satisfied": "The placement holds the policy.",
    "violated": "The hard policy is broken.",
    "degraded": "The soft policy is not honoured.",
}


def status_class(status: str) -> str:
    return STATUS_CLASSES.get((status or "").upper(), "other")


def member(entry: dict) -> dict:
    return {**entry, "css": status_class(entry.get("status", ""))}


def picture(report: dict) -> dict:
    columns = [
        {
            "title": column.get("host_name") or column.get("host") or "no host yet",
            "label": column.get("host") or "",
            "named": bool(column.get("host_name")),
            "members": [member(entry) for entry in column.get("members", [])],
        }
        for column in report.get("by_host", [])
    ]
    share = report.get("largest_host_share")
    return {
        "verdict": report.get("placement_status") or "",
        "explanation": VERDICT_TEXT.get(report.get("placement_status") or "", ""),
        "checked_at": report.get("checked_at"),
        "hosts": report.get("hosts"),
        "largest_host_members": report.get("largest_host_members"),
        "largest_host_share": None if share is None else round(100 * share),
        "columns": columns,
        "failed": [member(entry) for entry in report.get("failed", [])],
        "waiting": [member(entry) for entry in report.get("waiting", [])],
        "enabled_hosts": report.get("enabled_hosts"),
        "room": report.get("room"),
    }


def placement_reports(groups: Sequence[ServerGroup], *, staff: bool) -> list[dict]:
    """`placement_report(group=g, staff=staff)` of each of `groups`, in their order, with one query
    for all their members (each group's tenant and cloud must be loaded with it), plus `waiting`: the
    members with no host yet that have not failed (being built), which the report leaves out.

    The same dicts as `placement_report` (tests/ui/test_pages.py compares them); it belongs beside it,
    in `cohort.openstack.placement`, where the page would call it.
    """
    rows: dict[int, list[dict]] = {group.pk: [] for group in groups}
    instances = (
        Instance.objects.filter(server_group__in=list(rows))
        .exclude(status__in=DELETED_STATUSES)
        .order_by("name", "pk")
        .values("server_group_id", "uuid", "name", "status", "host_id", "fault_message")
    )
    for instance in instances if rows else ():
        rows[instance["server_group_id"]].append(instance)
    return [report(group, rows[group.pk], staff=staff) for group in groups]


def report(group: ServerGroup, instances: list[dict], *, staff: bool) -> dict:
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
        "enabled_hosts": len(enabled_ids) if enabled_ids is not None else None,
        "room": room(group.policy, group.rules, members, enabled_ids) if anti and enabled_ids is not None else None,
        "waiting": waiting,
    }
