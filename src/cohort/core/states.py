"""The lifecycle state machine, in one place.

A record moves between the eight states of the contract only through `move()`: a single conditional
UPDATE (`WHERE state IN (allowed sources)`), so a transition is atomic across processes and a lost
race is reported instead of silently overwriting another worker's result. Services decide *when* to
move; this module decides *whether* a move is legal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.db import models
from django.utils import timezone

from cohort.core import statements
from cohort.core.errors import Conflict, Gone


class State(models.TextChoices):
    CREATION_SCHEDULED = "CREATION_SCHEDULED", "Creation Scheduled"
    CREATING = "CREATING", "Creating"
    UPDATE_SCHEDULED = "UPDATE_SCHEDULED", "Update Scheduled"
    UPDATING = "UPDATING", "Updating"
    DELETION_SCHEDULED = "DELETION_SCHEDULED", "Deletion Scheduled"
    DELETING = "DELETING", "Deleting"
    OK = "OK", "OK"
    ERRED = "ERRED", "Erred"


SETTLED = frozenset({State.OK, State.ERRED})
TRANSITIONAL = frozenset(State) - SETTLED

# target state -> the states it may be reached from
SOURCES: dict[State, frozenset[State]] = {
    State.CREATING: frozenset({State.CREATION_SCHEDULED, State.CREATING}),
    State.UPDATE_SCHEDULED: frozenset({State.OK}),
    State.UPDATING: frozenset({State.UPDATE_SCHEDULED, State.UPDATING}),
    State.DELETION_SCHEDULED: SETTLED,
    State.DELETING: frozenset({State.DELETION_SCHEDULED, State.DELETING}),
    State.OK: frozenset({State.CREATING, State.UPDATING, State.OK, State.ERRED}),
    State.ERRED: frozenset(State),
}


class InvalidState(Conflict):
    """The record is not in a state the operation may start from."""

    def __init__(self, allowed: Iterable[State]):
        self.allowed = sorted(allowed, key=list(State).index)
        labels = ", ".join(State(s).label for s in self.allowed)
        super().__init__(f"Valid states for operation: {labels}.")


class RecordGone(InvalidState, Gone):
    """The record was deleted before it could move (404 at the edge)."""


def move(
    obj: models.Model,
    target: State,
    *,
    sources: Iterable[State] | None = None,
    guard: Mapping[str, object] | None = None,
    **fields: object,
) -> None:
    """Move `obj` to `target` if its state in the database is one of `sources`.

    `sources` defaults to every state `target` may legally be reached from; `guard` adds conditions
    the row must also meet (a worker's lease); `fields` are written in the same UPDATE. On success
    `obj` is updated in memory; otherwise `InvalidState` is raised and nothing is written.
    """
    allowed = frozenset(sources) if sources is not None else SOURCES[target]
    guard = guard or {}
    model, now = type(obj), timezone.now()

    def build(pk: int, modified: object, **values: object) -> tuple[models.QuerySet, dict]:
        where = {name: values[f"where {name}"] for name in guard}
        rows = model._default_manager.filter(pk=pk, state__in=allowed, **where)
        return rows, {"state": target, "modified": modified, **{name: values[f"set {name}"] for name in fields}}

    # compiled once per kind of move (`cohort.core.statements`): a step moves its row twice on the way to OK
    key = ("states.move", model._meta.label, target, tuple(sorted(allowed)), tuple(guard), tuple(fields))
    values = {f"where {name}": value for name, value in guard.items()}
    values.update({f"set {name}": value for name, value in fields.items()})
    updated = statements.update(key, build, pk=obj.pk, modified=now, **values)
    if not updated:
        gone = not type(obj)._default_manager.filter(pk=obj.pk).exists()
        raise RecordGone(allowed) if gone else InvalidState(allowed)
    obj.state = target
    obj.modified = now
    for name, value in fields.items():
        setattr(obj, name, value)


def require(obj: models.Model, allowed: Iterable[State]) -> None:
    """Raise `InvalidState` unless `obj` is in one of the `allowed` states (as last read)."""
    allowed = frozenset(allowed)
    if obj.state not in allowed:
        raise InvalidState(allowed)


def parse_state(value: str) -> State | None:
    """Accept `ERRED`, `erred`, `Erred`, `Creation Scheduled`, `creation_scheduled`."""
    key = value.strip().upper().replace(" ", "_")
    return State.__members__.get(key)
