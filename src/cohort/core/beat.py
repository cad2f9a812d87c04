"""The beat's scheduler: any number of `cohort beat` processes, one leading, each period sent once.

Celery's own schedulers keep the schedule in the process (and a file), so a second beat sends every
periodic job again, and when the only one dies nothing is sent at all. `LeaderScheduler` keeps both
facts in the database instead (`cohort.core.claims`):

- **Leadership** is a claim named `beat`, held for `COHORT_BEAT_LEASE` seconds and renewed every
  third of that by the leader's ticks. The others tick as often and take it once it runs out, so a
  leader that dies is replaced within a lease and a third; one that stops cleanly gives it back and
  is replaced within a third. A leader that cannot reach the database stops sending.
- **Periods**: a job with an interval of N seconds has one period per N seconds of the clock (the
  count of intervals since the epoch), the same on every host. The leader claims a period before it
  sends the job, with a compare-and-set, so no period is sent twice, even by two processes that both
  believe they lead; one whose message could not be sent is given back and tried on the next tick.
  A job's very first period (the first time any beat sees it) is not sent: it runs from the next one,
  as Celery's own beat waits out one interval after it starts.

Every beat logs when it takes the lead and when it stands by.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid

from celery import beat
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection

from cohort.core import claims

logger = logging.getLogger(__name__)

LEADER = "beat"


class LeaderScheduler(beat.Scheduler):
    """A Celery beat scheduler whose schedule and leadership live in the database."""

    def __init__(self, *args, **kwargs):
        self.holder = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.leading: bool | None = None  # not yet known
        super().__init__(*args, **kwargs)

    def tick(self, *args, **kwargs) -> float:
        lease = settings.BEAT_LEASE_SECONDS
        try:
            if not connection.in_atomic_block:  # (a test's transaction)
                close_old_connections()  # one the database dropped is opened again
            self._lead(claims.take(LEADER, self.holder, lease))
            if self.leading:
                for entry in list(self.schedule.values()):
                    self._send_if_due(entry)
        except DatabaseError as error:
            logger.warning("beat: the database did not answer (%s); not sending until it does", error)
            self.leading = False
        return self._sleep(lease)

    def close(self) -> None:
        """On the way out (SIGTERM, Ctrl-C): hand the lead over at once rather than let it run out."""
        try:
            if self.leading:
                claims.release([LEADER], self.holder)
                self.leading = False
                logger.info("beat %s: gave up the lead", self.holder)
        except DatabaseError:
            pass
        super().close()

    def _lead(self, leading: bool) -> None:
        if leading and not self.leading:
            logger.info("beat %s: leading", self.holder)
        elif not leading and self.leading is not False:
            logger.info("beat %s: standing by; %s leads", self.holder, claims.holder_of(LEADER) or "nobody yet")
        self.leading = leading

    def _send_if_due(self, entry: beat.ScheduleEntry) -> None:
        every = _interval(entry)
        period = int(clock() // every)
        if not claims.claim_period(entry.name, period):
            return
        logger.info("beat %s: sending %s for period %d (every %d s)", self.holder, entry.name, period, every)
        try:
            self.apply_async(entry, producer=self.producer, advance=False)
        except Exception as error:  # the broker is away: the period is tried again on the next tick
            logger.warning("beat: could not send %s: %s", entry.name, error)
            claims.unclaim_period(entry.name, period)

    def _sleep(self, lease: float) -> float:
        """Until the next tick: a third of a lease, or the start of the next period if sooner."""
        now = clock()
        nearest = lease / 3
        for entry in self.schedule.values():
            every = _interval(entry)
            nearest = min(nearest, every - now % every + 0.05)
        return max(nearest, 0.05)


def clock() -> float:
    """Seconds since the epoch: the periods are counted on it."""
    return time.time()


def _interval(entry: beat.ScheduleEntry) -> float:
    """The entry's interval in seconds (Cohort's schedule uses plain intervals, not crontabs)."""
    return max(entry.schedule.run_every.total_seconds(), 1.0)
