"""Bodies a client can send that once ended in a 500: nesting deep enough to exhaust the parser's
recursion, bodies over the size limit and too many form fields (CONTRACT sections 6 and 7)."""

from __future__ import annotations

import pytest

from cohort.core.parsers import MAX_DEPTH, nesting_exceeds
from cohort.openstack.models import ServerGroup
from tests.api.support import GROUPS, assert_error, group_path, tenant_path
from tests.conftest import make_group

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.fixture
def owner(world, api):
    return api(world.users.owner)


def url_of(world, where: str) -> str:
    return {
        "collection": GROUPS,
        "tenant": tenant_path(world.tenant, "create_server_group/"),
        "group": group_path(make_group(world.tenant, "existing")),
    }[where]


def assert_parse_error(response) -> str:
    data = assert_error(response, 400)
    assert list(data) == ["detail"] and data["detail"].startswith("JSON parse error - "), data
    return data["detail"]


# --- nesting ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["collection", "tenant", "group"])
def test_rules_nested_100000_deep_is_400_json_parse_error(world, owner, where):
    url = url_of(world, where)
    method = "PATCH" if where == "group" else "POST"
    response = owner.generic(method, url, '{"name": "x", "rules": ' + DEEP + "}", content_type="application/json")
    assert "nested deeper than" in assert_parse_error(response)
    assert not ServerGroup.objects.exclude(name="existing").exists()


@pytest.mark.parametrize("field", ["name", "description", "policy", "rules", "tenant", "unknown"])
@pytest.mark.parametrize("depth", [MAX_DEPTH, 950, 990])
def test_any_field_nested_near_the_interpreters_limit_is_400(world, owner, field, depth):
    """Just under Python's recursion limit parses, and then recursed again when an error message
    quoted the value; anything deeper than MAX_DEPTH is refused whole."""
    value = "[" * depth + "]" * depth
    body = f'{{"name": "x", "policy": "anti-affinity", "{field}": {value}}}'
    response = owner.generic("POST", GROUPS, body, content_type="application/json")
    assert_parse_error(response)


def test_nesting_up_to_the_limit_is_parsed_and_judged_by_the_fields(world, owner):
    value = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)  # the body object is the first level
    response = owner.generic("POST", GROUPS, f'{{"name": {value}}}', content_type="application/json")
    assert assert_error(response, 400) == {"name": ["Not a valid string."]}


def test_a_top_level_array_nested_deep_is_400(world, owner):
    assert_parse_error(owner.generic("POST", GROUPS, DEEP, content_type="application/json"))


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data"])
def test_form_bodies_cannot_nest(world, owner, content_type):
    """Form fields are flat strings: a field full of brackets is just a long name."""
    body = {"name": "[" * 1000 + "]" * 1000, "rules": "[[[[]]]]"}
    fmt = "multipart" if content_type.startswith("multipart") else None
    if fmt:
        response = owner.post(GROUPS, body, format=fmt)
    else:
        from urllib.parse import urlencode

        response = owner.generic("POST", GROUPS, urlencode(body), content_type=content_type)
    data = assert_error(response, 400)
    assert set(data) <= {"name", "rules"}, data


@pytest.mark.parametrize(
    "data, exceeds",
    [
        ({}, False),
        ([], False),
        ("[[[[", False),
        ({"a": [[1]]}, False),  # three levels
        ({"a": [[[]]]}, True),  # four
        ([{"a": {"b": []}}], True),
        ([1, 2, [3], {"x": 4}], False),
    ],
)
def test_nesting_exceeds_counts_levels(data, exceeds):
    assert nesting_exceeds(data, 3) is exceeds
