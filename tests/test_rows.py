"""The read path's rows (`cohort.core.rows`) and the token lookup: queries compiled once give what the
ORM gives, and the wire conversions write what the renderer writes for the same value."""

from __future__ import annotations

import datetime

import orjson
import pytest
from django.contrib.auth import get_user_model

from cohort.core.authentication import digest, find_token, issue_token
from cohort.core.models import Token
from cohort.core.rows import fetch_for_user, wire_datetime, wire_uuid
from cohort.openstack import selectors
from cohort.openstack.api.views import tally_in_scope
from tests.conftest import make_group, make_tenant

UTC = datetime.UTC
RENDER = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC


@pytest.mark.parametrize(
    "moment",
    [
        datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime.datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=UTC),
        datetime.datetime(2026, 1, 2, 3, 4, 5, 892600, tzinfo=UTC),
        datetime.datetime(2026, 12, 31, 23, 59, 59, 1, tzinfo=UTC),
    ],
)
def test_a_datetime_as_text_is_written_as_the_renderer_writes_the_datetime(moment):
    rendered = orjson.loads(orjson.dumps(moment, option=RENDER))
    naive = moment.replace(tzinfo=None)
    sqlite_text = str(naive)  # how Django stores it in SQLite
    # PostgreSQL's text in UTC: the fraction trimmed of its trailing zeros, then "+00"
    postgres_text = naive.strftime("%Y-%m-%d %H:%M:%S") + (
        f".{naive.microsecond:06d}".rstrip("0") if naive.microsecond else ""
    )
    postgres_text += "+00"
    assert wire_datetime(sqlite_text) == wire_datetime(postgres_text) == rendered
    assert orjson.loads(orjson.dumps(wire_datetime(moment), option=RENDER)) == rendered


def test_a_uuid_as_text_with_or_without_dashes_is_32_hex_digits():
    import uuid

    value = uuid.uuid4()
    assert wire_uuid(value) == wire_uuid(str(value)) == wire_uuid(value.hex) == value.hex


def tally_orm(user):
    return list(tally_in_scope(user=user))


def test_a_scoped_query_compiled_once_gives_each_user_their_own_rows(world):
    make_group(world.tenant, "a")
    make_group(world.other_tenant, "b")
    make_tenant("acme-second", world.web, world.cloud)
    for user in vars(world.users).values():
        assert fetch_for_user(tally_in_scope, user) == tally_orm(user), user.username
    assert [row[1] for row in fetch_for_user(tally_in_scope, world.users.owner)] == ["acme-second", "acme-tenant"]
    assert fetch_for_user(tally_in_scope, world.users.stranger) == []
    assert len(fetch_for_user(tally_in_scope, world.users.staff)) == 3


def test_a_query_that_depends_on_more_than_the_kind_of_user_is_refused(world):
    def by_name(*, user):
        return selectors.tenants_in_scope(user=user).filter(name=user.username).values_list("pk")

    with pytest.raises(AssertionError):
        fetch_for_user(by_name, world.users.owner)


def group_by_uuid(*, user, key):
    return selectors.server_groups_visible_to(user=user).filter(uuid=key).values_list("pk", "name")


def test_a_keyed_query_compiled_once_finds_the_row_of_each_key_only_where_the_user_sees_it(world):
    import uuid

    acme, globex = make_group(world.tenant, "a"), make_group(world.other_tenant, "b")
    for user in vars(world.users).values():
        for group in (acme, globex):
            expected = list(group_by_uuid(user=user, key=group.uuid))
            assert fetch_for_user(group_by_uuid, user, key=group.uuid) == expected, (user.username, group.name)
        assert fetch_for_user(group_by_uuid, user, key=uuid.uuid4()) == []
    assert fetch_for_user(group_by_uuid, world.users.owner, key=acme.uuid) == [(acme.pk, "a")]
    assert fetch_for_user(group_by_uuid, world.users.owner, key=globex.uuid) == []
    assert fetch_for_user(group_by_uuid, world.users.staff, key=globex.uuid) == [(globex.pk, "b")]


def test_a_key_the_query_does_not_take_as_a_parameter_is_refused(world):
    def ignores_the_key(*, user, key):
        return selectors.tenants_in_scope(user=user).values_list("pk")

    with pytest.raises(AssertionError):
        fetch_for_user(ignores_the_key, world.users.owner, key=world.tenant.uuid)


def test_an_inactive_user_is_not_compiled_for_and_sees_nothing(world):
    user = world.users.owner
    user.is_active = False
    assert fetch_for_user(tally_in_scope, user) == []


def test_the_token_lookup_reads_what_select_related_reads(world):
    key = issue_token(world.users.owner)
    found = find_token(digest(key))
    expected = Token.objects.select_related("user").get(digest=digest(key))
    assert found is not None and found.pk == expected.pk
    for field in Token._meta.concrete_fields:
        assert getattr(found, field.attname) == getattr(expected, field.attname), field.name
    for field in get_user_model()._meta.concrete_fields:
        assert getattr(found.user, field.attname) == getattr(expected.user, field.attname), field.name
    assert found.last_used.tzinfo is not None
    assert find_token(digest("no such key")) is None
