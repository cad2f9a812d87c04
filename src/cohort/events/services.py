"""Writing the event log: `event_record`, the one function that adds an event (`events_batched`
writes those of a block together), and `events_prune`.

A service calls `event_record` inside the transaction of the change it records, so the change and its
event commit together or not at all (calling it outside a transaction is refused: an event could
then outlive a change rolled back after it). `events_prune` drops events older than
`EVENT_RETENTION_DAYS`; the periodic work runs it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from cohort.core.batches import BATCH
from cohort.events.models import Event
from cohort.events.scope import HasScope
from cohort.events.types import STAFF_ONLY, EventType

logger = logging.getLogger(__name__)


class NotInTransaction(RuntimeError):
    pass


def event_record(
    *,
    event_type: EventType,
    message: str,
    scope: HasScope | None = None,
    actor=None,
    changes: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
) -> Event:
    """Add an event about `scope` (any object with `event_scope()`), done by `actor` (a user, or None
    for Cohort itself). `changes` is what changed, `{field: [old, new]}` or `{field: new}`."""
    if not connection.in_atomic_block:
        raise NotInTransaction(
            f"event_record({event_type}) outside a transaction: call it inside the transaction.atomic() "
            "that writes the change it records."
        )
    event_type = EventType(event_type)
    where = scope.event_scope() if scope is not None else None
    values: dict[str, Any] = {}
    if actor is not None and getattr(actor, "is_authenticated", False):
        values.update(user_uuid=_user_uuid(actor), user_username=actor.get_username())
    if where is not None:
        values.update(where.context())
    if changes:
        values["changes"] = dict(changes)
    values.update(context or {})
    fields = dict(
        created=timezone.now(),
        event_type=event_type.value,
        message=message,
        context=values,
        scope_type=where.type if where else "",
        scope_uuid=where.uuid if where else None,
        tenant_uuid=where.tenant.uuid if where and where.tenant else None,
        project_uuid=where.project.uuid if where and where.project else None,
        customer_uuid=where.customer.uuid if where and where.customer else None,
        staff_only=event_type in STAFF_ONLY or bool(where and where.staff_only),
    )
    batch = getattr(_batches, "events", None)
    if batch is not None:
        event = Event(**fields)
        batch.append(event)
    else:
        event = Event.objects.create(**fields)
    logger.info("event %s: %s", event_type.value, message)
    return event


_batches = threading.local()


@contextlib.contextmanager
def events_batched() -> Iterator[None]:
    """Within the block, `event_record` keeps the events it makes, and they are written together
    when the block ends, `BATCH` rows per statement (a tenant pull importing thousands of groups
    records thousands of events). Use it inside the transaction of the changes the events record;
    an exception in the block writes none. A block inside another joins it."""
    if getattr(_batches, "events", None) is not None:
        yield
        return
    _batches.events = []
    try:
        yield
        if _batches.events and not connection.in_atomic_block:
            raise NotInTransaction("events_batched() must end inside the transaction of the changes it records.")
        Event.objects.bulk_create(_batches.events, batch_size=BATCH)
    finally:
        _batches.events = None


def _user_uuid(user) -> str:
    # Django's user has no uuid: a stable, non-secret stand-in derived from the primary key, so that
    # `user_uuid` (as in the reference's context) identifies the same user across events.
    return uuid_for_user(user.pk).hex


def uuid_for_user(pk: int) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"cohort:user:{pk}")


def events_prune(*, now=None) -> int:
    """Delete events older than `EVENT_RETENTION_DAYS`; returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.EVENT_RETENTION_DAYS)
    with transaction.atomic():
        deleted, _ = Event.objects.filter(created__lt=cutoff).delete()
    if deleted:
        logger.info("pruned %d event(s) older than %d days", deleted, settings.EVENT_RETENTION_DAYS)
    return deleted
