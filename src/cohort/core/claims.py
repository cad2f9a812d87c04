"""Claims: what only one process may hold at a time, across every host, kept in the database.

A `Claim` is a named row with a holder and the moment its hold runs out. `take` is one conditional
UPDATE (a compare-and-set, the same on PostgreSQL and SQLite): it succeeds when the row is free, its
hold ran out, or the caller already holds it. A holder keeps its claim by renewing it (`renew`) and
gives it back when done (`release`); a process that dies simply stops renewing, and the claim is
free again once its time runs out. Two uses:

- **Slots**: `take_one_of` takes any free one of a few names, e.g. the `COHORT_CLOUD_CONCURRENCY`
  slots of one cloud (`cloud_slots`), so at most that many steps run against the cloud at any moment,
  whatever the number of workers. A count checked and then acted on would let two workers that check
  at the same moment both go ahead; a slot cannot be taken twice.
- **Leadership**: one name, e.g. the beat's (`cohort.core.beat`).

`claim_period` is the other half of periodic work: it moves a job's last claimed period forward, again
with a compare-and-set, so that each period of a job is sent once even if two schedulers believe they
lead (a lease can run out under a process that is merely slow).

Times are the processes' own clocks (as for `cohort.core.intent`'s leases): hosts that run Cohort
keep their clocks in step (NTP), and a hold is many seconds long against their skew.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone

from cohort.core import statements
from cohort.core.models import Claim, PeriodicRun


def take(name: str, holder: str, seconds: float) -> bool:
    """Hold `name` for `seconds` as `holder`, if it is free, ran out, or is `holder`'s already."""
    return take_one_of([name], holder, seconds) is not None


def take_one_of(names: Sequence[str], holder: str, seconds: float) -> str | None:
    """Hold the first free one of `names` for `seconds` as `holder` and return its name, or None when
    all are held by others. One UPDATE per name tried; rows are made on first use."""
    for attempt in range(2):
        now = timezone.now()
        until = now + timedelta(seconds=seconds)
        for name in names:
            if statements.update("claims.take", _take, name=name, holder=holder, now=now, until=until):
                return name
        if attempt == 0:  # perhaps never used (or a test emptied the table): make the rows, try once more
            Claim.objects.bulk_create([Claim(name=name) for name in names], ignore_conflicts=True)
    return None


def _take(name: str, holder: str, now: datetime, until: datetime) -> tuple[models.QuerySet, dict]:
    # compiled once (`cohort.core.statements`): a step takes a slot of its cloud on the way to OK
    free = Q(holder="") | Q(holder=holder) | Q(until__lte=now) | Q(until__isnull=True)
    return Claim.objects.filter(free, name=name), {"holder": holder, "until": until}


def renew(names: Sequence[str], holder: str, seconds: float) -> int:
    """Push the hold of `holder` on each of `names` `seconds` ahead; how many it still held."""
    until = timezone.now() + timedelta(seconds=seconds)
    return Claim.objects.filter(name__in=list(names), holder=holder).update(until=until)


def release(names: Sequence[str], holder: str) -> int:
    """Give back those of `names` that `holder` still holds; how many it held."""
    return Claim.objects.filter(name__in=list(names), holder=holder).update(holder="", until=None)


def holder_of(name: str) -> str:
    """Who holds `name` now ("" when nobody does)."""
    row = Claim.objects.filter(name=name, until__gt=timezone.now()).values_list("holder", flat=True).first()
    return row or ""


def cloud_slots(cloud_id: int, kind: str, count: int) -> list[str]:
    """The names of the `count` slots of `kind` ("step", "move") of cloud `cloud_id`."""
    return [f"cloud-{cloud_id}-{kind}-{number}" for number in range(max(count, 1))]


def full_clouds(kind: str, count: int) -> set[int]:
    """The clouds whose `count` slots of `kind` are all held now."""
    held = Claim.objects.filter(name__startswith="cloud-", until__gt=timezone.now())
    counts: dict[int, int] = {}
    for name in held.exclude(holder="").filter(name__contains=f"-{kind}-").values_list("name", flat=True):
        _, cloud_id, _, number = name.split("-")
        if int(number) < count:
            counts[int(cloud_id)] = counts.get(int(cloud_id), 0) + 1
    return {cloud_id for cloud_id, held_slots in counts.items() if held_slots >= max(count, 1)}


def claim_period(job: str, period: int) -> bool:
    """Whether the caller gets to send `job` for `period` (a count of the job's intervals since the
    epoch): True once per period, to whoever asks first. The first time a job is ever seen, its
    current period is taken to have run (as a newly started scheduler waits out one interval)."""
    if PeriodicRun.objects.filter(job=job, period__lt=period).update(period=period, sent_at=timezone.now()):
        return True
    PeriodicRun.objects.bulk_create([PeriodicRun(job=job, period=period, sent_at=None)], ignore_conflicts=True)
    return False


def unclaim_period(job: str, period: int) -> None:
    """Give `period` of `job` back (its message could not be sent), so that it is sent on the next try."""
    PeriodicRun.objects.filter(job=job, period=period).update(period=models.F("period") - 1)
