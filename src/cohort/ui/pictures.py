"""A group's placement as the page draws it: one column per host, a box per member coloured by its
status, the members still waiting for a host, and those that could not be placed, each with Nova's
fault; and under it the plan that would mend the placement (each move and its reason) or what
blocks it.

It draws the placement report (`cohort.openstack.placement.placement_reports`, one query for a page
of groups), which already decides what the user may see: a host's name for staff, a short anonymous
label for everyone else.
"""

from __future__ import annotations

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
        "members": sum(len(column["members"]) for column in report.get("by_host", []))
        + len(report.get("failed", []))
        + len(report.get("waiting", [])),
        "room_limited_by": report.get("room_limited_by"),
        "plan": [
            {"server": move["server"]["name"] or move["server"]["uuid"], "from": move["from"], "reason": move["reason"]}
            for move in report.get("plan", [])
        ],
        "blocked": report.get("blocked"),
        "last_heal": report.get("last_heal"),
    }
