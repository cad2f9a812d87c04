"""Durable intent: leases, the sweep, retries of transient failures, and the per-cloud limit.

Tasks run eagerly, so a dispatch runs the step at once; the cloud is the in-memory Nova. The same
rules are shown on real processes in `tests/test_faults.py`.
"""

from datetime import timedelta

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.utils import timezone

from cohort.cloud import BadRequest, Unreachable
from cohort.cloud.memory import MemoryDriver
from cohort.core import claims, intent
from cohort.core.states import TRANSITIONAL, InvalidState, State, move
from cohort.openstack import dispatch, reconcile, steps
from cohort.openstack.models import ServerGroup
from cohort.structure.models import ServiceSettings
from tests.conftest import make_group, make_tenant, memory_project

PAST = timedelta(seconds=-1)


def pending(tenant, name, state=State.CREATION_SCHEDULED, due_in=PAST, **fields):
    return make_group(tenant, name, state=state, due_at=timezone.now() + due_in, **fields)


def reload(group):
    return ServerGroup.objects.get(pk=group.pk)


def test_one_lease_at_a_time(world):
    group = pending(world.tenant, "a")
    first = intent.claim(ServerGroup.objects, group.pk, states=TRANSITIONAL)
    assert first is not None and first.attempt == 1
    assert intent.claim(ServerGroup.objects, group.pk, states=TRANSITIONAL) is None  # held
    ServerGroup.objects.filter(pk=group.pk).update(due_at=timezone.now() + PAST)  # the holder died
    second = intent.claim(ServerGroup.objects, group.pk, states=TRANSITIONAL)
    assert second is not None and second.attempt == 2
    with pytest.raises(InvalidState):  # the first holder's result can no longer land
        move(group, State.OK, sources=TRANSITIONAL, guard=first.guard)
    move(group, State.OK, sources=TRANSITIONAL, guard=second.guard)


def test_a_settled_or_missing_row_cannot_be_claimed(world):
    group = make_group(world.tenant, "done")
    assert intent.claim(ServerGroup.objects, group.pk, states=TRANSITIONAL) is None
    assert intent.claim(ServerGroup.objects, 10**9, states=TRANSITIONAL) is None


def test_a_create_settles_with_no_work_left(world, api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api(world.users.manager).post(
            f"/api/openstack-tenants/{world.tenant.uuid.hex}/create_server_group/", {"name": "x"}, format="json"
        )
    group = ServerGroup.objects.get(uuid=response.json()["uuid"])
    assert (group.state, group.due_at, group.lease_owner) == (State.OK, None, "")


def test_a_write_leaves_due_work_even_when_no_message_is_sent(world, api):
    """The message is only a fast path: without it the row says what must happen, and when."""
    response = api(world.users.manager).post(
        f"/api/openstack-tenants/{world.tenant.uuid.hex}/create_server_group/", {"name": "x"}, format="json"
    )  # no on-commit callbacks run here: as if the broker had lost the message
    group = ServerGroup.objects.get(uuid=response.json()["uuid"])
    assert group.state == State.CREATION_SCHEDULED
    assert group.due_at is not None and group.due_at <= timezone.now() + timedelta(seconds=5)
    assert dispatch.sweep() == 0  # within the grace period the message may still come
    ServerGroup.objects.filter(pk=group.pk).update(due_at=timezone.now() + PAST)
    assert dispatch.sweep() == 1
    assert reload(group).state == State.OK


def test_the_sweep_runs_every_kind_of_due_work_and_leaves_the_rest(world):
    made = MemoryDriver(world.tenant.cloud_access()).create_server_group(name="made", policy="affinity")
    never_sent = pending(world.tenant, "never-sent")
    interrupted = pending(world.tenant, "made", State.CREATING)  # died after Nova made it
    interrupted_early = pending(world.tenant, "early", State.CREATING)  # died before Nova did
    leaving = pending(world.tenant, "leaving", State.DELETING, backend_id="already-gone")
    replacing = pending(world.tenant, "replacing", State.UPDATE_SCHEDULED, policy="anti-affinity")
    waiting = pending(world.tenant, "waiting", due_in=timedelta(seconds=30))  # its message may still come
    held = pending(world.tenant, "held")
    intent.claim(ServerGroup.objects, held.pk, states=TRANSITIONAL)  # a live worker runs it

    assert dispatch.sweep() == 5
    assert reload(never_sent).state == State.OK and reload(never_sent).backend_id
    assert (reload(interrupted).state, reload(interrupted).backend_id) == (State.OK, made.id)
    assert reload(interrupted_early).state == State.OK
    assert not ServerGroup.objects.filter(pk=leaving.pk).exists()
    assert reload(replacing).state == State.OK
    assert reload(waiting).state == State.CREATION_SCHEDULED
    assert reload(held).state == State.CREATION_SCHEDULED
    cloud = memory_project(world.tenant)
    linked = ServerGroup.objects.exclude(backend_id="").values_list("backend_id", flat=True)
    assert sorted(cloud.groups) == sorted(linked)
    assert dispatch.sweep() == 0


def test_a_sweep_that_meets_a_broker_that_is_away_leaves_its_rows_due(world, monkeypatch):
    groups = [pending(world.tenant, f"due-{n}") for n in range(3)]

    def broker_away(pk):
        raise ConnectionError("the broker is away")

    monkeypatch.setattr(dispatch.tasks.advance_server_group, "delay", broker_away)
    assert dispatch.sweep() == 0
    assert all(reload(group).due_at <= timezone.now() for group in groups)  # the next sweep sends them
    monkeypatch.undo()
    assert dispatch.sweep() == 3


def test_two_sweepers_never_both_dispatch_a_row(world):
    group = pending(world.tenant, "a")
    now = timezone.now()
    assert intent.mark_dispatched(ServerGroup.objects, [group.pk], now=now) == [group.pk]
    assert intent.mark_dispatched(ServerGroup.objects, [group.pk], now=now) == []


@pytest.mark.parametrize("failure", [Unreachable("The cloud did not answer: timed out"), SoftTimeLimitExceeded()])
def test_a_transient_failure_is_tried_again_then_erred(world, settings, failure):
    settings.STEP_ATTEMPTS = 3
    group = pending(world.tenant, "flaky")
    cloud = memory_project(world.tenant)
    for attempt in (1, 2):
        cloud.failures["create_server_group"] = failure  # a failure injected here happens once
        steps.advance(group.pk)
        group = reload(group)
        assert (group.state, group.attempts, group.lease_owner) == (State.CREATING, attempt, "")
        assert group.due_at > timezone.now()  # backed off, not running
        ServerGroup.objects.filter(pk=group.pk).update(due_at=timezone.now() + PAST)
    cloud.failures["create_server_group"] = failure
    steps.advance(group.pk)
    group = reload(group)
    assert group.state == State.ERRED and group.due_at is None
    assert group.error_message in ("The cloud did not answer: timed out", "The cloud did not answer in time.")


def test_a_transient_failure_that_clears_reaches_ok_without_a_duplicate(world):
    group = pending(world.tenant, "flaky")
    cloud = memory_project(world.tenant)
    cloud.failures["create_server_group"] = Unreachable("The cloud did not answer: timed out")
    steps.advance(group.pk)  # fails once, then the cloud answers again
    ServerGroup.objects.filter(pk=group.pk).update(due_at=timezone.now() + PAST)
    assert dispatch.sweep() == 1
    assert reload(group).state == State.OK and len(cloud.groups) == 1


def test_a_refusal_is_not_retried(world):
    group = pending(world.tenant, "bad")
    memory_project(world.tenant).failures["create_server_group"] = BadRequest("Invalid input")
    steps.advance(group.pk)
    group = reload(group)
    assert (group.state, group.error_message, group.attempts, group.due_at) == (State.ERRED, "Invalid input", 0, None)


def test_a_busy_cloud_waits_and_other_clouds_go_on(world, settings):
    settings.CLOUD_CONCURRENCY = 1
    hung = pending(world.tenant, "hung")
    owner = intent.new_owner()  # a worker inside a hung step: the one slot of this cloud and the row, held
    assert claims.take_one_of(claims.cloud_slots(world.tenant.service_settings_id, "step", 1), owner, 60)
    intent.claim(ServerGroup.objects, hung.pk, states=TRANSITIONAL, owner=owner)
    blocked = pending(world.tenant, "blocked")
    elsewhere_cloud = ServiceSettings.objects.create(name="other", auth_url="memory://other", auth_type="admin_token")
    elsewhere = pending(make_tenant("t2", world.web, elsewhere_cloud), "elsewhere")

    steps.advance(blocked.pk)
    steps.advance(elsewhere.pk)
    blocked = reload(blocked)  # neither stepped nor leased: the claim went back with the slot it did not get
    assert (blocked.state, blocked.attempts, blocked.lease_owner) == (State.CREATION_SCHEDULED, 0, "")
    assert reload(elsewhere).state == State.OK


def test_a_create_answered_too_late_is_linked_not_imported_twice(world):
    """A hung cloud: the create timed out and the record went ERRED; Nova made the group later."""
    group = make_group(world.tenant, "late", state=State.ERRED, error_message="timed out", policy="anti-affinity")
    made = MemoryDriver(world.tenant.cloud_access()).create_server_group(name="late", policy="anti-affinity")
    reconcile.pull_tenant(world.tenant.pk)
    group = reload(group)
    assert (group.state, group.backend_id, group.error_message) == (State.OK, made.id, "")
    assert ServerGroup.objects.filter(tenant=world.tenant).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_lease_is_renewed_while_the_step_runs(world, settings):
    import time

    settings.LEASE_SECONDS = 0.6
    group = pending(world.tenant, "slow")
    lease = intent.claim(ServerGroup.objects, group.pk, states=TRANSITIONAL)
    first_due = reload(group).due_at
    with intent.renewed(lease):
        time.sleep(0.5)
    assert reload(group).due_at > first_due


def test_the_late_twin_of_a_timed_out_create_is_deleted_not_imported(world):
    """The create timed out, a retry made the group, then Nova finished the first request too."""
    group = pending(world.tenant, "twin", policy="anti-affinity")
    cloud = memory_project(world.tenant)
    cloud.failures["create_server_group"] = Unreachable("The cloud did not answer: timed out")
    steps.advance(group.pk)
    ServerGroup.objects.filter(pk=group.pk).update(due_at=timezone.now() + PAST)
    steps.advance(group.pk)
    group = reload(group)
    assert group.state == State.OK and group.strays_until > timezone.now()
    late = MemoryDriver(world.tenant.cloud_access()).create_server_group(name="twin", policy="anti-affinity")
    reconcile.pull_tenant(world.tenant.pk)
    assert list(cloud.groups) == [group.backend_id] and late.id not in cloud.groups
    assert ServerGroup.objects.filter(tenant=world.tenant).count() == 1


def test_a_same_named_group_made_outside_is_imported_when_no_create_timed_out(world):
    driver = MemoryDriver(world.tenant.cloud_access())
    mine = driver.create_server_group(name="twin", policy="anti-affinity")
    make_group(world.tenant, "twin", policy="anti-affinity", backend_id=mine.id)
    driver.create_server_group(name="twin", policy="anti-affinity")
    reconcile.pull_tenant(world.tenant.pk)
    assert ServerGroup.objects.filter(tenant=world.tenant).count() == 2


def test_a_step_that_lost_its_lease_leaves_its_group_to_reconciliation(world, monkeypatch):
    """The worker hung past its lease; another took the step over and made its own group. The first
    one's group must end neither linked twice nor orphaned."""
    group = pending(world.tenant, "slow")
    real = steps.cloud_for

    def another_worker_takes_over(tenant):
        driver = real(tenant)
        create = driver.create_server_group

        def create_while_losing_the_lease(**kwargs):
            mine = create(**kwargs)
            ServerGroup.objects.filter(pk=group.pk).update(due_at=timezone.now() + PAST)  # our lease ran out
            theirs = intent.claim(ServerGroup.objects, group.pk, states=TRANSITIONAL)
            assert theirs is not None
            return mine

        driver.create_server_group = create_while_losing_the_lease
        return driver

    monkeypatch.setattr(steps, "cloud_for", another_worker_takes_over)
    steps.advance(group.pk)
    group = reload(group)
    assert group.state == State.CREATING and group.backend_id == ""  # the other worker's to finish
    assert group.strays_until > timezone.now()
    monkeypatch.setattr(steps, "cloud_for", real)
    ServerGroup.objects.filter(pk=group.pk).update(due_at=timezone.now() + PAST)  # the other one dies too
    steps.advance(group.pk)  # a third attempt adopts the first group
    group = reload(group)
    cloud = memory_project(world.tenant)
    assert group.state == State.OK and list(cloud.groups) == [group.backend_id]


def test_a_create_step_costs_a_fixed_handful_of_queries(world, django_assert_max_num_queries):
    """The step is on the path from a create to OK: the claim, its row (with the cloud, which names
    the slots, and the project and customer the events name) and a slot of the cloud are taken in one
    transaction, and the OK and its two events in another (12 statements: a savepoint with the claim,
    the row and a slot; CREATING; a savepoint with the OK and the events in one INSERT; after OK, the
    slot given back and the cloud's next due group). Outside a test's transaction the savepoints are
    transactions: three commits before the OK is seen. The cloud's first step makes its slots' rows."""
    memory_project(world.tenant)
    steps.advance(pending(world.tenant, "first").pk)
    group = pending(world.tenant, "counted")
    with django_assert_max_num_queries(12):
        steps.advance(group.pk)
    assert reload(group).state == State.OK


def test_a_step_that_finds_its_row_held_takes_no_slot_of_the_cloud(world, settings):
    """The slot and the lease are taken in one transaction: a row another worker holds leaves the
    cloud's slots as they were, with nothing to give back."""
    memory_project(world.tenant)
    group = pending(world.tenant, "held")
    assert intent.claim(ServerGroup.objects, group.pk, states=TRANSITIONAL) is not None  # another worker's
    assert steps.advance(group.pk) is None
    slots = claims.cloud_slots(world.tenant.service_settings_id, "step", settings.CLOUD_CONCURRENCY)
    assert [claims.holder_of(slot) for slot in slots] == [""] * len(slots)
