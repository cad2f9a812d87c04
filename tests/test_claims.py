"""Claims in the database (`cohort.core.claims`) and the beat that leads by one (`cohort.core.beat`).

In process, on the test database; the same on real processes in `tests/test_beat.py` (two beats,
the leader killed) and `tests/test_cloud_limit.py` (four workers, one cloud's slots).
"""

from datetime import timedelta
from threading import Barrier

import pytest
from django.utils import timezone

from cohort.celery import app
from cohort.core import beat, claims
from cohort.core.models import Claim

pytestmark = pytest.mark.django_db


def test_a_claim_is_held_by_one_until_it_runs_out_or_is_given_back():
    assert claims.take("thing", "a", 60)
    assert not claims.take("thing", "b", 60)
    assert claims.take("thing", "a", 60)  # its holder may take it again (a renewal)
    assert claims.holder_of("thing") == "a"
    assert claims.release(["thing"], "b") == 0  # only the holder gives it back
    assert claims.release(["thing"], "a") == 1
    assert claims.take("thing", "b", 60) and claims.holder_of("thing") == "b"
    Claim.objects.filter(name="thing").update(until=timezone.now() - timedelta(seconds=1))  # b died
    assert claims.holder_of("thing") == ""
    assert claims.take("thing", "c", 60)


def test_renewing_keeps_a_claim_only_for_its_holder():
    claims.take("thing", "a", 1)
    assert claims.renew(["thing"], "b", 60) == 0
    assert claims.renew(["thing"], "a", 60) == 1
    assert Claim.objects.get(name="thing").until > timezone.now() + timedelta(seconds=50)


def test_slots_are_taken_one_each_until_none_is_left():
    slots = claims.cloud_slots(7, "step", 2)
    assert slots == ["cloud-7-step-0", "cloud-7-step-1"]
    first = claims.take_one_of(slots, "a", 60)
    second = claims.take_one_of(slots, "b", 60)
    assert {first, second} == set(slots)
    assert claims.take_one_of(slots, "c", 60) is None
    assert claims.full_clouds("step", 2) == {7}
    assert claims.full_clouds("step", 3) == set()  # a third slot is free once the limit is raised
    assert claims.full_clouds("move", 2) == set()
    claims.release(slots, "a")
    assert claims.full_clouds("step", 2) == set()
    assert claims.take_one_of(slots, "c", 60) == first


def test_threads_racing_for_two_slots_get_two(transactional_db):
    """Eight threads at a barrier, each with its own connection: exactly two win a slot."""
    from django.db import connection

    slots = claims.cloud_slots(1, "step", 2)
    claims.take_one_of(slots, "warm", 60)  # the rows exist, as after a cloud's first step
    claims.release(slots, "warm")
    start = Barrier(8)
    results = []

    def contend(n: int) -> None:
        start.wait()
        try:
            results.append(claims.take_one_of(slots, f"worker-{n}", 60))
        finally:
            connection.close()

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(contend, range(8)))
    assert sorted(r for r in results if r) == slots
    assert results.count(None) == 6


def test_each_period_of_a_job_is_claimed_once():
    assert not claims.claim_period("job", 100)  # the first time a job is seen: its current period is done
    assert not claims.claim_period("job", 100)
    assert claims.claim_period("job", 101)
    assert not claims.claim_period("job", 101)
    assert not claims.claim_period("job", 100)  # never backwards (a beat with a slow clock)
    claims.unclaim_period("job", 101)  # its message could not be sent
    assert claims.claim_period("job", 101)


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock(1_000_000.0)
    monkeypatch.setattr(beat, "clock", clock)
    return clock


@pytest.fixture
def sent(monkeypatch):
    """What the schedulers send, by job name, instead of a broker."""
    sent: list[str] = []
    monkeypatch.setattr(beat.LeaderScheduler, "apply_async", lambda self, entry, **kwargs: sent.append(entry.name))
    return sent


def scheduler(settings) -> beat.LeaderScheduler:
    settings.BEAT_LEASE_SECONDS = 30
    schedule = {
        "every-ten": {"task": "cohort.openstack.tasks.reconcile_all", "schedule": 10.0},
        "every-hour": {"task": "cohort.events.tasks.prune_events", "schedule": 3600.0},
    }
    scheduler = beat.LeaderScheduler(app=app)
    scheduler.merge_inplace(schedule)
    return scheduler


def test_one_of_two_beats_leads_and_each_period_is_sent_once(settings, clock, sent):
    first, second = scheduler(settings), scheduler(settings)
    first.tick(), second.tick()
    assert (first.leading, second.leading) == (True, False)
    assert sent == []  # the jobs' first periods: they run from the next
    for _ in range(3):
        clock.now += 10
        first.tick(), second.tick(), first.tick()
    assert sent == ["every-ten"] * 3


def test_a_dead_leader_is_replaced_within_its_lease(settings, clock, sent):
    first, second = scheduler(settings), scheduler(settings)
    first.tick(), second.tick()
    Claim.objects.filter(name=beat.LEADER).update(until=timezone.now() - timedelta(seconds=1))  # first died
    clock.now += 10
    assert second.tick() <= 10  # a standby looks again within a third of a lease (or a period)
    assert second.leading and sent == ["every-ten"]


def test_a_leader_that_stops_hands_over_at_once(settings, clock, sent):
    first, second = scheduler(settings), scheduler(settings)
    first.tick(), second.tick()
    first.close()
    second.tick()
    assert second.leading


def test_two_that_both_believe_they_lead_still_send_a_period_once(settings, clock, sent):
    """A leader whose lease ran out while it was slow, and the one that took over, in the same period."""
    first, second = scheduler(settings), scheduler(settings)
    first.tick()
    clock.now += 10
    first._send_if_due(first.schedule["every-ten"])
    second._send_if_due(second.schedule["every-ten"])
    assert sent == ["every-ten"]


def test_a_period_whose_message_was_not_sent_is_sent_on_the_next_tick(settings, clock, monkeypatch):
    first = scheduler(settings)
    first.tick()
    clock.now += 10
    attempts = []

    def broker_down_once(self, entry, **kwargs):
        attempts.append(entry.name)
        if len(attempts) == 1:
            raise ConnectionError("the broker is away")

    monkeypatch.setattr(beat.LeaderScheduler, "apply_async", broker_down_once)
    first.tick()
    first.tick()
    first.tick()
    assert attempts == ["every-ten", "every-ten"]


def test_the_next_tick_is_at_most_a_third_of_a_lease_or_the_next_period(settings, clock, sent):
    first = scheduler(settings)
    clock.now = 1_000_003.0  # 7 s before a period of ten starts
    assert first.tick() == pytest.approx(7.05)
    clock.now = 1_000_000.5
    assert first.tick() == pytest.approx(9.55)
    settings.BEAT_LEASE_SECONDS = 6
    assert first.tick() == pytest.approx(2.0)
