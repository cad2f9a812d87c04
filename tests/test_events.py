"""The event log: what each write records, in its own transaction, who sees it, the filters of
/api/events/ and the retention pruning."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from cohort.core.states import State
from cohort.events.models import Event
from cohort.events.services import NotInTransaction, event_record, events_prune
from cohort.openstack import dispatch, reconcile, services
from cohort.openstack.models import ServerGroup
from tests.conftest import make_group

EVENTS = "/api/events/"
GROUPS = "/api/openstack-server-groups/"


def types(**filters) -> list[str]:
    return list(Event.objects.filter(**filters).order_by("created", "pk").values_list("event_type", flat=True))


def of(group) -> list[str]:
    return types(scope_uuid=group.uuid)


def create(api, user, tenant, capture, **body):
    with capture(execute=True):
        response = api(user).post(f"/api/openstack-tenants/{tenant.uuid.hex}/create_server_group/", body, format="json")
    assert response.status_code == 201, response.content
    return ServerGroup.objects.filter(uuid=response.json()["uuid"]).first() or response.json()["uuid"]


# --- what each write records ------------------------------------------------------------------------


def test_a_create_through_the_api_records_its_lifecycle_with_the_context(
    world, api, django_capture_on_commit_callbacks
):
    group = create(api, world.users.manager, world.tenant, django_capture_on_commit_callbacks, name="web")
    assert group.state == State.OK
    assert of(group) == ["resource_creation_scheduled", "openstack_server_group_created", "resource_creation_succeeded"]
    scheduled = Event.objects.get(scope_uuid=group.uuid, event_type="resource_creation_scheduled")
    context = scheduled.context
    assert context["user_username"] == "manager" and len(context["user_uuid"]) == 32
    assert (context["resource_uuid"], context["resource_name"], context["resource_type"]) == (
        group.uuid.hex, "web", "OpenStack.ServerGroup",
    )  # fmt: skip
    assert (context["tenant_uuid"], context["tenant_name"]) == (world.tenant.uuid.hex, "acme-tenant")
    assert (context["project_uuid"], context["project_name"]) == (world.web.uuid.hex, "web")
    assert (context["customer_uuid"], context["customer_name"]) == (world.acme.uuid.hex, "Acme")
    assert context["changes"]["policy"] == "affinity"
    assert (scheduled.customer_uuid, scheduled.project_uuid, scheduled.tenant_uuid) == (
        world.acme.uuid, world.web.uuid, world.tenant.uuid,
    )  # fmt: skip
    assert not scheduled.staff_only
    made = Event.objects.get(scope_uuid=group.uuid, event_type="openstack_server_group_created")
    assert made.context["backend_id"] == group.backend_id and "user_uuid" not in made.context  # the worker


def test_update_records_what_changed_and_a_policy_change_its_replacement(world, django_capture_on_commit_callbacks):
    group = make_group(world.tenant, "g")
    services.server_group_update(group=group, name="g2", actor=world.users.owner)
    updated = Event.objects.get(scope_uuid=group.uuid)
    assert updated.event_type == "openstack_server_group_updated"
    assert updated.context["changes"] == {"name": ["g", "g2"]} and updated.context["user_username"] == "owner"
    services.server_group_update(group=group, name="g2", actor=world.users.owner)  # no change, no event
    assert of(group) == ["openstack_server_group_updated"]
    with django_capture_on_commit_callbacks(execute=True):
        services.server_group_update(group=group, policy="anti-affinity", actor=world.users.owner)
    assert of(group)[1:] == ["resource_update_scheduled", "openstack_server_group_created", "resource_update_succeeded"]
    scheduled = Event.objects.get(scope_uuid=group.uuid, event_type="resource_update_scheduled")
    assert scheduled.context["changes"] == {"policy": ["affinity", "anti-affinity"]}


def test_delete_pull_unlink_set_ok_and_set_erred_record_theirs(world, django_capture_on_commit_callbacks):
    staff = world.users.staff
    group = make_group(world.tenant, "g")
    services.server_group_set_erred(group=group, error_message="boom", actor=staff)
    services.server_group_set_ok(group=group, actor=staff)
    services.server_group_pull(group=group, actor=staff)  # the pull itself finds the group gone
    services.server_group_set_ok(group=group, actor=staff)
    with django_capture_on_commit_callbacks(execute=True):
        services.server_group_delete(group=group, actor=staff)
    assert not ServerGroup.objects.filter(pk=group.pk).exists()
    assert of(group) == [
        "openstack_server_group_set_erred",
        "openstack_server_group_set_ok",
        "resource_pull_scheduled",
        "openstack_server_group_set_ok",
        "resource_deletion_scheduled",
        "openstack_server_group_deleted",
        "resource_deletion_succeeded",
    ]
    erred = Event.objects.get(scope_uuid=group.uuid, event_type="openstack_server_group_set_erred")
    assert erred.context["changes"] == {"state": ["OK", "ERRED"], "error_message": "boom"}
    other = make_group(world.tenant, "other")
    services.server_group_unlink(group=other, actor=staff)
    assert of(other) == ["openstack_server_group_unlinked"]
    assert Event.objects.get(scope_uuid=other.uuid).context["backend_id"] == "nova-other"


def test_a_failed_step_records_its_failure(world, django_capture_on_commit_callbacks, monkeypatch):
    from cohort.cloud import Forbidden
    from cohort.cloud.memory import MemoryDriver

    def refuse(self, **kwargs):
        raise Forbidden("quota exceeded")

    monkeypatch.setattr(MemoryDriver, "create_server_group", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        group = services.server_group_create(tenant=world.tenant, name="g")
    group.refresh_from_db()
    assert group.state == State.ERRED
    assert of(group) == ["resource_creation_scheduled", "resource_creation_failed"]
    assert "quota exceeded" in Event.objects.get(event_type="resource_creation_failed").message


def test_reconciliation_records_imported_pulled_and_cleaned(world):
    from cohort.cloud.memory import MemoryDriver

    driver = MemoryDriver(world.tenant.cloud_access())
    outside = driver.create_server_group(name="made-outside", policy="soft-affinity")
    known = driver.create_server_group(name="known", policy="anti-affinity")
    changed = make_group(world.tenant, "known", backend_id=known.id)  # the record says affinity
    same = driver.create_server_group(name="same", policy="affinity")
    unchanged = make_group(world.tenant, "same", backend_id=same.id)
    stale = make_group(world.tenant, "stale", backend_id="deleted-behind-our-back")
    reconcile.pull_tenant(world.tenant.pk)
    imported = ServerGroup.objects.get(backend_id=outside.id)
    assert of(imported) == ["openstack_server_group_imported"]
    assert of(changed) == ["openstack_server_group_pulled"]
    pulled = Event.objects.get(scope_uuid=changed.uuid)
    assert pulled.context["changes"] == {"policy": ["affinity", "anti-affinity"]}
    assert of(unchanged) == []  # a pull that changed nothing records nothing
    assert of(stale) == ["openstack_server_group_cleaned"]
    assert Event.objects.get(scope_uuid=stale.uuid).project_uuid == world.web.uuid


def test_a_pull_that_finds_the_group_gone_records_it_erred(world):
    group = make_group(world.tenant, "vanished", backend_id="missing")
    reconcile.pull(group.pk)
    event = Event.objects.get(scope_uuid=group.uuid)
    assert event.event_type == "openstack_server_group_erred" and event.context["changes"] == {"state": ["OK", "ERRED"]}


def test_a_step_resumed_after_an_interruption_records_the_recovery(world, django_capture_on_commit_callbacks):
    from cohort.openstack import steps

    group = make_group(world.tenant, "stuck", state=State.CREATING)  # a worker died mid-create
    steps.advance(group.pk)
    group.refresh_from_db()
    assert group.state == State.OK
    assert of(group)[0] == "openstack_server_group_recovered"
    assert "CREATING" in Event.objects.filter(scope_uuid=group.uuid).order_by("pk").first().message


# --- one transaction: no change without its event, no event without its change -------------------------


def test_a_failure_after_the_change_is_written_rolls_back_the_change_and_its_event(world, monkeypatch):
    def broken(group):
        raise RuntimeError("the broker client blew up")

    monkeypatch.setattr(dispatch, "start_after_commit", broken)
    with pytest.raises(RuntimeError):
        services.server_group_create(tenant=world.tenant, name="doomed", actor=world.users.owner)
    assert not ServerGroup.objects.filter(name="doomed").exists()
    assert not Event.objects.exists()

    group = make_group(world.tenant, "g")
    with pytest.raises(RuntimeError):
        services.server_group_delete(group=group, actor=world.users.owner)
    group.refresh_from_db()
    assert group.state == State.OK and not Event.objects.exists()


def test_a_failing_event_write_rolls_back_the_change(world, monkeypatch):
    group = make_group(world.tenant, "g")

    def refuse(**kwargs):
        raise RuntimeError("the event table is gone")

    monkeypatch.setattr(Event.objects, "create", refuse)
    with pytest.raises(RuntimeError):
        services.server_group_set_erred(group=group, error_message="x", actor=world.users.staff)
    group.refresh_from_db()
    assert group.state == State.OK


@pytest.mark.django_db(transaction=True)
def test_an_event_outside_a_transaction_is_refused(world):
    with pytest.raises(NotInTransaction):
        event_record(event_type="openstack_server_group_imported", message="x", scope=world.tenant)


# --- signing in, commands ------------------------------------------------------------------------------


def test_a_token_and_a_failed_login_are_recorded_for_staff_only(world, api):
    from rest_framework.test import APIClient

    user = world.users.owner
    user.set_password("right-pass-1")
    user.save()
    assert APIClient().post("/api-auth/password/", {"username": "owner", "password": "right-pass-1"}).status_code == 200
    assert APIClient().post("/api-auth/password/", {"username": "owner", "password": "wrong"}).status_code == 401
    issued = Event.objects.filter(event_type="token_created", context__user_username="owner")
    assert issued.exists() and all(event.staff_only for event in issued)
    failed = Event.objects.get(event_type="auth_login_failed_with_username")
    assert failed.staff_only and failed.context["username"] == "owner" and "password" not in str(failed.context)
    assert failed.context["ip_address"] == "127.0.0.1"
    seen_by_owner = {e["event_type"] for e in api(user).get(EVENTS, {"page_size": 300}).json()}
    assert not seen_by_owner & {"token_created", "auth_login_failed_with_username"}
    seen_by_staff = {e["event_type"] for e in api(world.users.staff).get(EVENTS, {"page_size": 300}).json()}
    assert {"token_created", "auth_login_failed_with_username"} <= seen_by_staff


def test_the_commands_record_what_they_change(world, capsys):
    call_command("customer", "Initech")
    call_command("project", "Initech", "ops")
    call_command("user", "peter", "--password", "pw-Initech-1")
    call_command("role", "peter", "manager", "--project", "ops")
    call_command("role", "peter", "manager", "--project", "ops")  # already held: nothing changes
    call_command("role", "peter", "manager", "--project", "ops", "--revoke")
    call_command("cloud", "c2", "--no-check", "--auth-url", "https://k/v3", "--credential", "password=s3cret-value")
    call_command("cloud", "c2", "--no-check", "--auth-url", "https://k2/v3", "--credential", "password=s3cret-value")
    call_command("tenant", "t2", "--cloud", "c2", "--project", "ops", "--backend-id", "p-2")
    assert types() == [
        "customer_creation_succeeded",
        "project_creation_succeeded",
        "user_creation_succeeded",
        "role_granted",
        "role_revoked",
        "service_settings_created",
        "service_settings_updated",
        "openstack_tenant_created",
    ]
    assert "s3cret-value" not in str(list(Event.objects.values_list("context", flat=True)))
    assert "pw-Initech-1" not in str(list(Event.objects.values_list("context", flat=True)))
    updated = Event.objects.get(event_type="service_settings_updated")
    assert updated.staff_only and updated.context["changes"]["auth_url"] == ["https://k/v3", "https://k2/v3"]
    granted = Event.objects.get(event_type="role_granted")
    assert (granted.context["role_name"], granted.context["affected_user_username"]) == ("manager", "peter")
    assert granted.context["project_name"] == "ops" and not granted.staff_only


def test_admin_changes_are_recorded(world):
    from django.contrib.auth import get_user_model
    from django.test import Client

    root = get_user_model().objects.create_superuser("root", password="pw-for-test")
    client = Client(HTTP_HOST="localhost")
    client.force_login(root)
    form = {"name": "Acme 2", "native_name": "", "abbreviation": "", "roles-TOTAL_FORMS": "1",
            "roles-INITIAL_FORMS": "1", "roles-0-id": str(world.acme.roles.get().pk),
            "roles-0-customer": str(world.acme.pk), "roles-0-user": str(world.users.owner.pk),
            "roles-0-role": "owner", "roles-0-DELETE": "on"}  # fmt: skip
    response = client.post(f"/admin/structure/customer/{world.acme.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert types() == ["role_revoked", "customer_update_succeeded"]
    changed = Event.objects.get(event_type="customer_update_succeeded")
    assert changed.context["user_username"] == "root" and changed.customer_uuid == world.acme.uuid
    page = client.get(f"/admin/openstack/tenant/{world.tenant.pk}/change/")
    assert page.status_code == 200 and b'name="backend_id"' not in page.content  # tenants: view only
    assert client.post(f"/admin/openstack/tenant/{world.tenant.pk}/delete/", {"post": "yes"}).status_code == 403


# --- /api/events/: filters, ordering, field, pages ----------------------------------------------------


@pytest.fixture
def staff(world, api):
    """Staff's client, its token's event left out of what the tests below count."""
    client = api(world.users.staff)
    Event.objects.filter(event_type="token_created").delete()
    return client


@pytest.fixture
def logged(world, staff):
    """Four events of acme's group (two an hour ago), one of globex's; and a failed login."""
    group = make_group(world.tenant, "acme-group")
    other = make_group(world.other_tenant, "globex-group")
    with transaction.atomic():
        event_record(event_type="resource_creation_scheduled", message="Create of acme-group", scope=group)
        event_record(event_type="resource_creation_succeeded", message="Created acme-group", scope=group)
    Event.objects.update(created=timezone.now() - timedelta(hours=1))
    with transaction.atomic():
        event_record(event_type="openstack_server_group_pulled", message="Pulled ACME-group", scope=group)
        event_record(event_type="resource_deletion_scheduled", message="Delete of acme-group", scope=group)
        event_record(event_type="resource_creation_scheduled", message="Create of globex-group", scope=other)
        event_record(event_type="auth_login_failed_with_username", message="failed", context={"username": "x"})
    return group, other


def names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [event["message"] for event in response.json()]


def test_the_default_order_is_newest_first_and_o_orders(world, staff, logged):
    newest = names(staff.get(EVENTS))
    assert newest[0] == "failed" and newest[-1] == "Create of acme-group"
    assert names(staff.get(EVENTS, {"o": "created"})) == newest[::-1]
    assert names(staff.get(EVENTS, {"o": "-created"})) == newest
    assert staff.get(EVENTS, {"o": "message"}).status_code == 400


def test_scope_gives_an_objects_events_and_what_it_holds(world, api, staff, logged):
    group, other = logged
    url = f"http://testserver{GROUPS}{group.uuid.hex}/"
    assert len(names(staff.get(EVENTS, {"scope": url}))) == 4
    tenant = f"http://testserver/api/openstack-tenants/{world.other_tenant.uuid.hex}/"
    assert names(staff.get(EVENTS, {"scope": tenant})) == ["Create of globex-group"]
    project = f"http://testserver/api/projects/{world.web.uuid.hex}/"
    assert len(names(staff.get(EVENTS, {"scope": project}))) == 4
    customer = f"http://testserver/api/customers/{world.globex.uuid.hex}/"
    assert names(staff.get(EVENTS, {"scope": customer})) == ["Create of globex-group"]
    # a scope the caller cannot see: nothing, and no word on whether it exists
    assert names(api(world.users.owner).get(EVENTS, {"scope": f"http://testserver{GROUPS}{other.uuid.hex}/"})) == []
    for bad in ("not a url", "http://testserver/api/openstack-server-groups/", "http://testserver/admin/"):
        response = staff.get(EVENTS, {"scope": bad})
        assert response.status_code == 400 and "scope" in response.json(), bad


def test_event_type_repeats_customer_and_project_uuid_and_message(world, staff, logged):
    assert len(names(staff.get(EVENTS, {"event_type": "resource_creation_scheduled"}))) == 2
    both = staff.get(f"{EVENTS}?event_type=resource_creation_scheduled&event_type=openstack_server_group_pulled")
    assert len(names(both)) == 3
    assert names(staff.get(EVENTS, {"event_type": "no_such_type"})) == []
    assert names(staff.get(EVENTS, {"customer_uuid": world.globex.uuid.hex})) == ["Create of globex-group"]
    assert len(names(staff.get(EVENTS, {"project_uuid": str(world.web.uuid)}))) == 4
    assert staff.get(EVENTS, {"project_uuid": "nope"}).status_code == 400
    assert sorted(names(staff.get(EVENTS, {"message": "acme-GROUP"}))) == sorted(
        ["Create of acme-group", "Created acme-group", "Pulled ACME-group", "Delete of acme-group"]
    )


def test_created_from_and_created_to_are_timestamps(world, staff, logged):
    half_an_hour_ago = (timezone.now() - timedelta(minutes=30)).timestamp()
    assert len(names(staff.get(EVENTS, {"created_from": half_an_hour_ago}))) == 4
    assert sorted(names(staff.get(EVENTS, {"created_to": str(half_an_hour_ago)}))) == [
        "Create of acme-group", "Created acme-group",
    ]  # fmt: skip
    first = Event.objects.order_by("created", "pk").first()
    exact = first.created.timestamp()
    assert first.message in names(staff.get(EVENTS, {"created_from": exact}))  # inclusive
    assert first.message not in names(staff.get(EVENTS, {"created_to": exact}))  # exclusive
    for bad in ("yesterday", "nan", "1e400"):
        response = staff.get(EVENTS, {"created_from": bad})
        assert response.status_code == 400 and "created_from" in response.json(), bad


def test_field_pages_count_and_retrieve(world, staff, logged):
    body = staff.get(f"{EVENTS}?field=event_type&field=uuid&field=nonsense").json()
    assert all(set(event) == {"event_type", "uuid"} for event in body)
    page = staff.get(EVENTS, {"page_size": 2, "page": 2})
    assert page.status_code == 200 and len(page.json()) == 2 and page["X-Result-Count"] == "6"
    assert 'rel="next"' in page["Link"] and 'rel="prev"' in page["Link"]
    head = staff.head(EVENTS, {"event_type": "resource_creation_scheduled"})
    assert head.status_code == 200 and head["X-Result-Count"] == "2" and head.content == b""
    assert staff.get(f"{EVENTS}count/", {"message": "globex"}).json() == {"count": 1}
    assert staff.get(EVENTS, {"page": 9}).status_code == 404
    event = body[0]
    one = staff.get(f"{EVENTS}{event['uuid']}/").json()
    assert set(one) == {"uuid", "created", "event_type", "message", "context"} and one["uuid"] == event["uuid"]


# --- retention ------------------------------------------------------------------------------------------


def test_events_past_the_retention_are_pruned_by_the_periodic_work(world, settings):
    from cohort.events.tasks import prune_events

    settings.EVENT_RETENTION_DAYS = 30
    group = make_group(world.tenant, "g")
    with transaction.atomic():
        old = event_record(event_type="openstack_server_group_imported", message="old", scope=group)
        kept = event_record(event_type="openstack_server_group_pulled", message="kept", scope=group)
    Event.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=30, minutes=1))
    Event.objects.filter(pk=kept.pk).update(created=timezone.now() - timedelta(days=29, hours=23))
    assert prune_events() == 1
    assert list(Event.objects.values_list("message", flat=True)) == ["kept"]
    assert events_prune() == 0
    schedule = settings.CELERY_BEAT_SCHEDULE["prune-events"]
    assert schedule["task"] == prune_events.name and schedule["schedule"] > 0


def test_the_retention_defaults_to_90_days_and_is_read_from_the_environment():
    import subprocess
    import sys

    code = "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'cohort.settings'); " \
        "from django.conf import settings; print(settings.EVENT_RETENTION_DAYS)"  # fmt: skip
    import os

    env = {k: v for k, v in os.environ.items() if k != "COHORT_EVENT_RETENTION_DAYS"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "90"
    env["COHORT_EVENT_RETENTION_DAYS"] = "7"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "7"


def test_a_token_revoked_in_the_admin_is_recorded(world):
    from django.contrib.auth import get_user_model
    from django.test import Client

    from cohort.core.authentication import issue_token
    from cohort.core.models import Token

    issue_token(world.users.owner)
    token = Token.objects.get(user=world.users.owner)
    root = get_user_model().objects.create_superuser("root", password="pw-for-test")
    client = Client(HTTP_HOST="localhost")
    client.force_login(root)
    response = client.post(f"/admin/core/token/{token.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not Token.objects.filter(pk=token.pk).exists()
    revoked = Event.objects.get(event_type="token_revoked")
    assert revoked.staff_only and revoked.context["user_username"] == "root"
    assert revoked.context["token_user_username"] == "owner"
