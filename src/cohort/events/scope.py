"""What an event is about, as the event log needs it: `Scope`, built by the app that owns the object.

The event app sits below the domain apps and knows none of their models: a model that events can be
about has an `event_scope()` returning a `Scope` (its type, uuid and name, and the tenant, project and
customer it belongs to). The event log copies it into the event's context and into the indexed
columns that scope and filter events without reading the JSON.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Owner:
    uuid: uuid.UUID
    name: str


@dataclass(frozen=True)
class Scope:
    type: str  # as in the reference: "OpenStack.ServerGroup", "Structure.Project", ...
    uuid: uuid.UUID
    name: str
    tenant: Owner | None = None
    project: Owner | None = None
    customer: Owner | None = None
    staff_only: bool = False  # a cloud, a user: shown to staff only
    extra: dict = field(default_factory=dict)  # more context keys (e.g. the role of a role event)

    def context(self) -> dict:
        """The reference's context keys for the object and what it belongs to."""
        values = {"resource_type": self.type, "resource_uuid": self.uuid.hex, "resource_name": self.name}
        for key, owner in (("tenant", self.tenant), ("project", self.project), ("customer", self.customer)):
            if owner is not None:
                values[f"{key}_uuid"], values[f"{key}_name"] = owner.uuid.hex, owner.name
        return {**values, **self.extra}

    def event_scope(self) -> Scope:
        """A scope is its own scope: a caller without a model at hand (a user) passes one directly."""
        return self


class HasScope(Protocol):
    def event_scope(self) -> Scope: ...
