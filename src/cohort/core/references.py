"""Reading the UUIDs clients send: 32 hex digits, dashed, or inside a hyperlink of ours."""

from __future__ import annotations

import uuid


def parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value).strip())
    except ValueError:
        return None


def uuid_from_reference(value: str) -> uuid.UUID | None:
    """The UUID in `.../openstack-tenants/<uuid>/`, or a bare UUID; None if there is none."""
    text = str(value).strip().rstrip("/")
    return parse_uuid(text.rsplit("/", 1)[-1])
