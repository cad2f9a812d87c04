"""Statements compiled once (`cohort.core.statements`): the same rows and results as the ORM's, with
each call's own values, on SQLite and PostgreSQL alike (the suite runs on both)."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.models import F, Q
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cohort.core import statements
from cohort.core.states import State
from cohort.openstack import steps
from cohort.openstack.models import ServerGroup
from tests.conftest import make_group, memory_project


@pytest.fixture(autouse=True)
def fresh_statements():
    statements._cache.clear()
    yield
    statements._cache.clear()


def lease(pk, owner, now, due):
    rows = ServerGroup.objects.filter(pk=pk, state__in=[State.CREATION_SCHEDULED, State.CREATING])
    free = rows.filter(Q(lease_owner="") | Q(due_at__lte=now) | Q(due_at__isnull=True))
    return free, {"lease_owner": owner, "due_at": due, "attempts": F("attempts") + 1}


def compiled(key):
    return [value for shape, value in statements._cache.items() if shape[1] == key]


def test_an_update_compiled_once_writes_each_calls_own_values(world):
    one = make_group(world.tenant, "one", state=State.CREATION_SCHEDULED)
    two = make_group(world.tenant, "two", state=State.CREATION_SCHEDULED)
    other = make_group(world.tenant, "settled")
    now = timezone.now()
    due = now + timedelta(seconds=30, microseconds=123456)

    assert statements.update("lease", lease, pk=one.pk, owner="a" * 32, now=now, due=due) == 1
    assert statements.update("lease", lease, pk=two.pk, owner="b" * 32, now=now, due=due + timedelta(seconds=1)) == 1
    assert statements.update("lease", lease, pk=other.pk, owner="c" * 32, now=now, due=due) == 0  # OK: not taken
    assert statements.update("lease", lease, pk=one.pk, owner="d" * 32, now=now, due=due) == 0  # held by "a"

    assert [value is not None for value in compiled("lease")] == [True]  # compiled once, and run four times
    rows = {row.name: row for row in ServerGroup.objects.all()}
    later = due + timedelta(seconds=1)
    assert (rows["one"].lease_owner, rows["one"].due_at, rows["one"].attempts) == ("a" * 32, due, 1)
    assert (rows["two"].lease_owner, rows["two"].due_at, rows["two"].attempts) == ("b" * 32, later, 1)
    assert (rows["settled"].lease_owner, rows["settled"].attempts) == ("", 0)


def test_an_update_runs_the_sql_the_orm_runs(world):
    group = make_group(world.tenant, "same", state=State.CREATION_SCHEDULED)
    now = datetime(2030, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)
    values = {"pk": group.pk, "owner": "e" * 32, "now": now, "due": now + timedelta(seconds=30)}
    with CaptureQueriesContext(connection) as orm:
        rows, fields = lease(**values)
        rows.update(**fields)
    ServerGroup.objects.filter(pk=group.pk).update(lease_owner="", due_at=None)
    with CaptureQueriesContext(connection) as ours:
        statements.update("lease", lease, **values)
    assert [query["sql"] for query in ours] == [query["sql"] for query in orm]


def test_none_an_enum_and_a_bool_are_part_of_the_shape(world):
    group = make_group(world.tenant, "shapes", state=State.CREATING, due_at=timezone.now())

    def settle(pk, state, due):
        return ServerGroup.objects.filter(pk=pk), {"state": state, "due_at": due}

    assert statements.update("settle", settle, pk=group.pk, state=State.OK, due=None) == 1
    assert ServerGroup.objects.get(pk=group.pk).due_at is None
    later = timezone.now() + timedelta(hours=1)
    assert statements.update("settle", settle, pk=group.pk, state=State.ERRED, due=later) == 1
    row = ServerGroup.objects.get(pk=group.pk)
    assert (row.state, row.due_at) == (State.ERRED, later)
    assert len(compiled("settle")) == 2 and all(compiled("settle"))  # (OK, None) and (ERRED, a datetime)


def test_a_uuid_goes_in_the_form_the_orm_gives_it_and_other_values_run_through_the_orm(world):
    group = make_group(world.tenant, "by-uuid", state=State.CREATION_SCHEDULED)

    def by_uuid(key, owner):  # a UUID column: its hex digits on SQLite, a UUID on PostgreSQL
        return ServerGroup.objects.filter(uuid=key), {"lease_owner": owner}

    assert statements.update("by uuid", by_uuid, key=group.uuid, owner="f" * 32) == 1
    assert statements.update("by uuid", by_uuid, key=uuid.uuid4(), owner="g" * 32) == 0
    assert [value is not None for value in compiled("by uuid")] == [True]
    assert ServerGroup.objects.get(pk=group.pk).lease_owner == "f" * 32

    def by_rules(rules, owner):  # a dict: never compiled (and never a key of the cache)
        return ServerGroup.objects.filter(rules=rules), {"lease_owner": owner}

    assert statements.update("by rules", by_rules, rules={}, owner="h" * 32) == 1
    assert compiled("by rules") == []

    def by_hex(key, owner):  # a string the UUID field turns into a UUID: its stand-in is refused
        return ServerGroup.objects.filter(uuid=key), {"lease_owner": owner}

    assert statements.update("by hex", by_hex, key=group.uuid.hex, owner="i" * 32) == 1
    assert statements.update("by hex", by_hex, key=uuid.uuid4().hex, owner="j" * 32) == 0
    assert compiled("by hex") == [None]

    def containing(part):  # the value reaches the SQL as "%part%", not as itself
        return ServerGroup.objects.filter(name__contains=part), {"lease_owner": "k" * 32}

    assert statements.update("containing", containing, part="y-uu") == 1
    assert compiled("containing") == [None]
    assert ServerGroup.objects.get(pk=group.pk).lease_owner == "k" * 32


def test_a_statement_that_reads_more_of_its_user_than_the_pk_is_not_compiled(world):
    from cohort.structure.models import CustomerRole

    def by_username(user_pk):
        user = statements.user_stand_in(user_pk, staff=False)
        return CustomerRole.objects.filter(user__username=user.username).select_related("user").order_by()

    role = statements.first("by username", by_username, user_pk=world.users.owner.pk)
    assert compiled("by username") == [None]
    assert role is None  # the ORM ran it, for a user named "stand-in <pk>", of whom there is none


def fields(obj):
    return {field.attname: getattr(obj, field.attname) for field in obj._meta.concrete_fields}


def test_a_read_compiled_once_gives_the_instances_the_orm_gives(world):
    world.cloud.credentials = {"token": "secret", "project_id": "admin"}  # encrypted in the database
    world.cloud.save()
    make_group(world.tenant, "first", state=State.CREATING, rules={"max_server_per_host": 2}, due_at=timezone.now())
    second = make_group(world.tenant, "second")
    queryset = ServerGroup.objects.select_related("tenant__service_settings", "tenant__project__customer")

    def row(pk):
        return queryset.filter(pk=pk).order_by()

    for group in ServerGroup.objects.all():
        ours, theirs = statements.first("row", row, pk=group.pk), queryset.get(pk=group.pk)
        for path in ("", "tenant", "tenant.service_settings", "tenant.project", "tenant.project.customer"):
            mine, orm = ours, theirs
            for name in filter(None, path.split(".")):
                mine, orm = getattr(mine, name), getattr(orm, name)
            assert fields(mine) == fields(orm), path
        assert ours.tenant.service_settings.credentials == {"token": "secret", "project_id": "admin"}
    assert statements.first("row", row, pk=second.pk + 1000) is None
    assert [value is not None for value in compiled("row")] == [True]


def test_a_warm_step_compiles_none_of_its_statements_on_the_way_to_ok(world, monkeypatch):
    """The claim (the lease, the row with its cloud, project and customer, a slot) and both moves,
    CREATING and OK, are compiled by a process's first step and only run after that."""
    memory_project(world.tenant)
    first = make_group(world.tenant, "first", state=State.CREATION_SCHEDULED, backend_id="", due_at=timezone.now())
    steps.advance(first.pk)
    assert len(statements._cache) == 5 and all(statements._cache.values()), statements._cache

    def no_compiling(*args, **kwargs):
        raise AssertionError("compiled again")

    monkeypatch.setattr(statements, "_compile", no_compiling)
    second = make_group(world.tenant, "second", state=State.CREATION_SCHEDULED, backend_id="", due_at=timezone.now())
    steps.advance(second.pk)
    second.refresh_from_db()
    assert (second.state, second.lease_owner, second.due_at, second.attempts) == (State.OK, "", None, 0)
    assert second.backend_id in memory_project(world.tenant).groups


def test_a_detail_lookup_and_the_managing_rule_are_compiled_per_kind_of_user(world, api):
    """A tenant action by a manager, then by another user of the same kind: the second compiles none
    of the lookups; each user gets their own answer."""
    url = f"/api/openstack-tenants/{world.tenant.uuid.hex}/pull_server_groups/"
    assert api(world.users.manager).post(url).status_code == 202
    kinds = {shape[1][0] if isinstance(shape[1], tuple) else shape[1] for shape in statements._cache}
    assert {"viewsets.get_object", "selectors.object_manageable_by"} <= kinds
    assert all(statements._cache.values())
    assert api(world.users.member).post(url).status_code == 403  # sees the tenant, may not manage it
    assert api(world.users.stranger).post(url).status_code == 404  # does not see it
    assert api(world.users.owner).post(url).status_code == 202
    other = f"/api/openstack-tenants/{world.other_tenant.uuid.hex}/pull_server_groups/"
    assert api(world.users.owner).post(other).status_code == 404
    assert api(world.users.staff).post(other).status_code == 202


def test_a_create_compiles_nothing_once_warm_up_to_its_commit(world, api, monkeypatch, django_assert_max_num_queries):
    """A create's POST as an owner of a tenant with a quota: the token, the tenant, the managing rule,
    the tenant's lock and the quota's usage run as compiled SQL; the insert, the event, the answer's
    row and the transaction's own statements are the ORM's (14 statements in all, 13 for staff)."""
    world.tenant.server_group_quota = 10
    world.tenant.save()
    client = api(world.users.owner)
    url = f"/api/openstack-tenants/{world.tenant.uuid.hex}/create_server_group/?field=uuid"
    assert client.post(url, {"name": "first"}, format="json").status_code == 201
    kinds = {shape[1][0] if isinstance(shape[1], tuple) else shape[1] for shape in statements._cache}
    assert {
        "authentication.find_token",
        "viewsets.get_object",
        "selectors.object_manageable_by",
        "services.server_group_create",
        "quotas.check_group_quota",
    } <= kinds
    assert all(statements._cache.values())

    def no_compiling(*args, **kwargs):
        raise AssertionError("compiled again")

    monkeypatch.setattr(statements, "_compile", no_compiling)
    with django_assert_max_num_queries(14):
        assert client.post(url, {"name": "second"}, format="json").status_code == 201


def test_a_value_the_statement_does_not_read_is_left_out(world, api):
    """Staff see every tenant: their lookup does not read their pk, and is compiled all the same."""
    url = f"/api/openstack-tenants/{world.other_tenant.uuid.hex}/pull_server_groups/"
    assert api(world.users.staff).post(url).status_code == 202
    lookups = [value for shape, value in statements._cache.items() if shape[1][0] == "viewsets.get_object"]
    assert len(lookups) == 1 and lookups[0] is not None
    assert [name for _, name, _ in lookups[0].slots] == ["key"]
    assert api(world.users.staff).post(url).status_code == 202
