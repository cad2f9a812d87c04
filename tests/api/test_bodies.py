"""Bodies a client can send that once ended in a 500: nesting deep enough to exhaust the parser's
recursion, bodies over the size limit and too many form fields (CONTRACT sections 6 and 7)."""

from __future__ import annotations

import pytest

from cohort.core.parsers import MAX_DEPTH, nesting_exceeds
from cohort.openstack.models import ServerGroup
from tests.api.support import GROUPS, assert_error, assert_field_error, group_path, tenant_path
from tests.conftest import make_group

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.fixture
def owner(world, api):
    return api(world.users.owner)


def url_of(world, where: str) -> str:
    if where == "group":
        return group_path(make_group(world.tenant, "existing"))
    return GROUPS if where == "collection" else tenant_path(world.tenant, "create_server_group/")


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


# --- size ---------------------------------------------------------------------------------------------------

TEN_MB = 10 * 1024 * 1024


def assert_too_large(response) -> None:
    data = assert_error(response, 413)
    assert list(data) == ["detail"] and "limit" in data["detail"], data


def test_body_limit_is_django_upload_limit(settings):
    assert settings.MAX_BODY_BYTES == settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 2_621_440


@pytest.mark.parametrize("where", ["collection", "tenant"])
def test_ten_mb_multipart_field_is_413(world, owner, where):
    response = owner.post(url_of(world, where), {"name": "x" * TEN_MB}, format="multipart")
    assert_too_large(response)
    assert not ServerGroup.objects.exists()


@pytest.mark.parametrize("where", ["collection", "tenant", "group"])
def test_ten_mb_json_body_is_413(world, owner, where):
    body = '{"name": "x", "description": "' + "d" * TEN_MB + '"}'
    method = "PATCH" if where == "group" else "POST"
    assert_too_large(owner.generic(method, url_of(world, where), body, content_type="application/json"))


def test_ten_mb_form_body_is_413(world, owner):
    body = "name=" + "x" * TEN_MB
    assert_too_large(owner.generic("POST", GROUPS, body, content_type="application/x-www-form-urlencoded"))


@pytest.mark.parametrize("path", ["/api-auth/password/", "/admin/login/", "/api/nothing/"])
def test_too_large_body_is_413_everywhere_before_anything_reads_it(db, api, path):
    response = api().generic("POST", path, "x" * TEN_MB, content_type="application/x-www-form-urlencoded")
    assert_too_large(response)


def test_body_just_under_the_limit_is_read(world, owner, settings):
    settings.MAX_BODY_BYTES = settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = '{"name": "ok", "description": "' + "d" * 1000 + '", "pad": "' + "p" * 8900 + '"}'
    assert len(body) < 10_000
    response = owner.generic("POST", GROUPS, body, content_type="application/json")
    assert response.status_code == 201, response.content
    body = body.replace("p" * 8900, "p" * 9000)
    assert_too_large(owner.generic("POST", GROUPS, body, content_type="application/json"))


def test_multipart_over_djangos_field_limit_is_413_even_under_the_body_limit(world, owner, settings):
    """Should the two limits ever differ, Django's own refusal is a 413 too, not a 500."""
    settings.MAX_BODY_BYTES = 20_000_000
    response = owner.post(GROUPS, {"name": "x" * TEN_MB}, format="multipart")
    assert_too_large(response)


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data"])
def test_too_many_form_fields_is_400_json(world, owner, content_type):
    fields = {f"f{i}": "1" for i in range(2000)}
    if content_type.startswith("multipart"):
        response = owner.post(GROUPS, fields, format="multipart")
    else:
        from urllib.parse import urlencode

        response = owner.generic("POST", GROUPS, urlencode(fields), content_type=content_type)
    data = assert_error(response, 400)
    assert list(data) == ["detail"] and "fields" in data["detail"], data


# --- bodies that are not whole --------------------------------------------------------------------------------

BOUNDARY = "cohort-test-boundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def multipart(fields: dict[str, str], *, closed: bool = True) -> bytes:
    parts = "".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    )
    return (parts + (f"--{BOUNDARY}--\r\n" if closed else "")).encode()


@pytest.mark.parametrize("where", ["collection", "tenant"])
def test_a_multipart_body_without_its_closing_boundary_is_400_and_creates_nothing(world, owner, where):
    url = url_of(world, where)
    fields = {"name": "cut-short", "policy": "anti-affinity"}
    cut = multipart(fields, closed=False)
    data = assert_error(owner.generic("POST", url, cut, content_type=MULTIPART), 400)
    assert list(data) == ["detail"] and "closing boundary" in data["detail"], data
    cut_inside_a_part = multipart(fields)[: len(cut) - 10]
    assert_error(owner.generic("POST", url, cut_inside_a_part, content_type=MULTIPART), 400)
    assert not ServerGroup.objects.filter(name="cut-short").exists()
    # the same body, whole, is taken (with an epilogue after the closing boundary too)
    whole = multipart(fields) + b"an epilogue, which RFC 2046 allows"
    assert owner.generic("POST", url, whole, content_type=MULTIPART).status_code == 201
    assert ServerGroup.objects.filter(name="cut-short").count() == 1


@pytest.mark.parametrize(
    "body, content_type",
    [
        (b'{"name": "cut-short"}     ', "application/json"),
        (b"name=cut-short&description=abc", "application/x-www-form-urlencoded"),
        (multipart({"name": "cut-short"}), MULTIPART),
    ],
)
def test_a_body_shorter_than_its_content_length_is_400_and_creates_nothing(world, owner, body, content_type):
    """What arrived parses (the client stopped sending, or the connection broke after a whole prefix):
    only its declared length tells it is not whole. gunicorn hands such a body over as it came."""
    import io

    declared = len(body) + 40
    response = owner.generic(
        "POST", GROUPS, b"", content_type=content_type,
        CONTENT_TYPE=content_type, CONTENT_LENGTH=str(declared), **{"wsgi.input": io.BytesIO(body)},
    )  # fmt: skip
    data = assert_error(response, 400)
    detail = f"The request body is incomplete: {len(body)} of the {declared} bytes of its Content-Length."
    assert data == {"detail": detail}
    assert not ServerGroup.objects.filter(name="cut-short").exists()


# --- numbers Python will not convert ----------------------------------------------------------------------------

HUGE = "9" * 10_000


@pytest.mark.parametrize(
    "body, field",
    [
        ('{"name": "x", "policy": "anti-affinity", "rules": {"max_server_per_host": ' + HUGE + "}}", "rules"),
        ('{"name": "x", "rules": ' + HUGE + "}", "rules"),
        ('{"name": -' + HUGE + "}", "name"),
        ('{"name": "x", "description": [1, 2, ' + HUGE + "]}", "description"),
    ],
)
def test_an_integer_of_10000_digits_is_a_400_naming_its_field(world, owner, body, field):
    """Python converts integers of up to 4,300 digits; json's error for more named no field."""
    assert assert_field_error(owner.generic("POST", GROUPS, body, content_type="application/json"), field) == [
        "A number of 10000 digits is out of range."
    ]


def test_a_body_that_is_only_a_huge_number_is_a_parse_error(world, owner):
    detail = assert_parse_error(owner.generic("POST", GROUPS, HUGE, content_type="application/json"))
    assert "10000 digits" in detail and "JSON object" in detail


def test_integers_python_converts_are_still_parsed():
    import io

    from cohort.core.parsers import JSONParser

    body = '{"rules": {"max_server_per_host": 2}, "big": ' + "7" * 4300 + "}"
    data = JSONParser().parse(io.BytesIO(body.encode()))
    assert data["rules"] == {"max_server_per_host": 2} and data["big"] == int("7" * 4300)
