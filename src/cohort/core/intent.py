"""Durable intent: a row in a transitional state is the record of work still to do.

A service that asks for cloud work writes the row's new state and `due_at` (a few seconds ahead) in
one transaction, and sends a message after the commit to start the work sooner. The message is only
a fast path. A worker that runs the work first *claims* the row with one conditional UPDATE: it
writes a fresh `lease_owner` token and pushes `due_at` one lease ahead, and only if nobody holds a
live lease. While it works it renews the lease; when the row settles, `due_at` and `lease_owner` are
cleared in the same UPDATE as the state. Every worker also sweeps for rows whose `due_at` has passed
(a message that never came, a worker that died holding a lease) and dispatches them again.

So a lost message, a killed worker or a broker outage costs seconds, and two workers never run one
row's step at once: the lease is a compare-and-set on the row, which works the same on PostgreSQL
and SQLite, where `SELECT ... FOR UPDATE SKIP LOCKED` would need a transaction held open across a
cloud call.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connections, models
from django.db.models import F, Q
from django.utils import timezone

from cohort.core import claims as claim_holds
from cohort.core import statements

logger = logging.getLogger(__name__)


class IntentModel(models.Model):
    """The columns of durable intent. `due_at` is null exactly when no work is pending."""

    due_at = models.DateTimeField(null=True, blank=True, db_index=True, editable=False)
    lease_owner = models.CharField(max_length=32, blank=True, default="", editable=False)
    attempts = models.PositiveSmallIntegerField(default=0, editable=False)

    class Meta:
        abstract = True


def scheduled() -> dict[str, object]:
    """Fields for a row whose work is newly asked for: due after the broker's grace period."""
    grace = timedelta(seconds=settings.DISPATCH_GRACE_SECONDS)
    return {"due_at": timezone.now() + grace, "lease_owner": "", "attempts": 0}


def settled() -> dict[str, object]:
    """Fields for a row with no work pending."""
    return {"due_at": None, "lease_owner": "", "attempts": 0}


@dataclass(frozen=True)
class Lease:
    """A worker's hold on one row's pending work. `guard` narrows an UPDATE to rows it still holds."""

    model: type[IntentModel]
    pk: int
    owner: str
    attempt: int

    @property
    def guard(self) -> dict[str, object]:
        return {"lease_owner": self.owner}

    def release(self, *, retry_in: float) -> bool:
        """Give the row back, to be dispatched again in `retry_in` seconds. False if it was lost."""
        due = timezone.now() + timedelta(seconds=retry_in)
        return bool(self.model._default_manager.filter(pk=self.pk, **self.guard).update(lease_owner="", due_at=due))


def new_owner() -> str:
    """A fresh lease token: one per attempt at a row's work."""
    return uuid.uuid4().hex


def claim(queryset: models.QuerySet, pk: int, *, states: Iterable[str], owner: str = "") -> Lease | None:
    """Take the lease on row `pk` of `queryset` if it is in one of `states` and nobody holds a live
    lease on it. Returns None when the row is gone, settled, or held by another worker. `owner` is the
    token to hold it with (a new one by default)."""
    owner = owner or new_owner()
    if not _take(queryset, pk, states, owner):
        return None
    attempt = queryset.filter(pk=pk).values_list("attempts", flat=True).first() or 1
    return Lease(queryset.model, pk, owner, attempt)


def claim_row(
    queryset: models.QuerySet, pk: int, *, states: Iterable[str], owner: str = "", key: str = ""
) -> tuple[Lease, models.Model | None] | None:
    """`claim`, and the row as it is under the new lease, read with `queryset` (its `select_related`
    and all): the caller's read of the row is also the one that gives the lease its attempt count, so
    a claim and a read cost two queries, not three. None when the claim failed; the row is None when
    it was deleted right after. With `key`, a name for the shape of `queryset` and `states` (the
    caller's promise that they are the same at every call with that key), both statements are
    compiled once (`cohort.core.statements`): for a step on the way from a create to OK."""
    owner = owner or new_owner()
    if not _take(queryset, pk, states, owner, key=key):
        return None
    if key:
        row = statements.first(("intent.claim_row", key), lambda pk: queryset.filter(pk=pk).order_by(), pk=pk)
    else:
        row = next(iter(queryset.filter(pk=pk).order_by()[:1]), None)  # the pk is unique: no ORDER BY
    return Lease(queryset.model, pk, owner, getattr(row, "attempts", 0) or 1), row


def _take(queryset: models.QuerySet, pk: int, states: Iterable[str], owner: str, key: str = "") -> bool:
    states = list(states)

    def build(pk: int, owner: str, now: datetime, due: datetime) -> tuple[models.QuerySet, dict]:
        rows = queryset.filter(pk=pk, state__in=states)
        free = rows.filter(Q(lease_owner="") | Q(due_at__lte=now) | Q(due_at__isnull=True))
        return free, {"lease_owner": owner, "due_at": due, "attempts": F("attempts") + 1}

    now = timezone.now()
    values = {"pk": pk, "owner": owner, "now": now, "due": now + _lease_length()}
    if key:
        return bool(statements.update(("intent.take", key), build, **values))
    rows, fields = build(**values)
    return bool(rows.update(**fields))


@contextmanager
def renewed(lease: Lease, *, claims: Sequence[str] = ()) -> Iterator[Lease]:
    """Keep `lease` alive while the body runs: a thread pushes `due_at` ahead every third of a lease,
    and the hold on `claims` (`cohort.core.claims`, taken with the lease's token) with it. A process
    that dies stops renewing, so its lease runs out and the sweep hands the work on."""
    stop = threading.Event()
    interval = settings.LEASE_SECONDS / 3

    def renew() -> None:
        try:
            while not stop.wait(interval):
                due = timezone.now() + _lease_length()
                if claims:
                    claim_holds.renew(claims, lease.owner, settings.LEASE_SECONDS)
                if not lease.model._default_manager.filter(pk=lease.pk, **lease.guard).update(due_at=due):
                    return  # settled, gone, or taken over: nothing left to renew
        except Exception:  # the database went away; the lease will simply run out
            logger.exception("could not renew the lease on %s %s", lease.model.__name__, lease.pk)
        finally:
            connections.close_all()

    thread = threading.Thread(target=renew, name=f"lease-{lease.pk}", daemon=True)
    thread.start()
    try:
        yield lease
    finally:
        stop.set()


def due(queryset: models.QuerySet, *, states: Iterable[str], now: datetime | None = None) -> models.QuerySet:
    """Rows of `queryset` in `states` whose work is due and not held by a live lease."""
    return queryset.filter(state__in=list(states), due_at__lte=now or timezone.now())


def mark_dispatched(queryset: models.QuerySet, pks: Iterable[int], *, now: datetime) -> list[int]:
    """Of `pks`, those this caller gets to dispatch again: each is pushed `REDISPATCH_SECONDS` ahead
    with one conditional UPDATE, so two sweeping workers never both send it."""
    later = now + timedelta(seconds=settings.REDISPATCH_SECONDS)
    won = []
    for pk in pks:
        if queryset.filter(pk=pk, due_at__lte=now).update(due_at=later, lease_owner=""):
            won.append(pk)
    return won


def backoff(attempt: int) -> float:
    """Seconds before a transient failure is tried again: 2, 4, 8, then every 15."""
    return float(min(2**attempt, 15))


def _lease_length() -> timedelta:
    return timedelta(seconds=settings.LEASE_SECONDS)
