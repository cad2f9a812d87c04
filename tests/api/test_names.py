"""Server-group names on the API: a name OpenStack would refuse is a 400 on `name` at once, not an ERRED record.

The rule is Nova's (`cohort.cloud.names`, held against a real Nova in `tests/cloud/`), applied on
create by both routes and on update, since a new policy replaces the Nova group under the current
name. Cohort's own limit of 150 characters and DRF's trimming come first; names that the published
client and real users send (non-ASCII letters, inner spaces, punctuation) still pass, and a created
group reaches OK on the in-memory Nova under exactly that name.
"""

from __future__ import annotations

import json

import pytest

from cohort.core.states import State
from cohort.openstack.models import ServerGroup
from tests.api.support import GROUPS, assert_field_error, group_path, tenant_path, tenant_url
from tests.conftest import make_group, memory_project

VIAS = ["collection", "tenant"]
CONTROL = "a control character, which OpenStack refuses in a name"
FORMATTING = "an invisible formatting character, which OpenStack refuses in a name"
BEYOND_U_FFFF = "a character beyond U+FFFF, which OpenStack refuses (most emoji are)"


@pytest.fixture
def owner(world, api):
    return api(world.users.owner)


def create(client, world, name, *, via="collection"):
    if via == "collection":
        return client.post(GROUPS, {"tenant": tenant_url(world.tenant), "name": name}, format="json")
    return client.post(tenant_path(world.tenant, "create_server_group/"), {"name": name}, format="json")


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize(
    "name, message",
    [
        ("db\tweb", f"Character 3 of the name is U+0009, {CONTROL}."),
        ("db\nweb", f"Character 3 of the name is U+000A, {CONTROL}."),
        ("web-\U0001f680", f"Character 5 of the name is U+1F680 (ROCKET), {BEYOND_U_FFFF}."),
        ("\U0001d400bc", f"Character 1 of the name is U+1D400 (MATHEMATICAL BOLD CAPITAL A), {BEYOND_U_FFFF}."),
        ("db\u200bweb", f"Character 3 of the name is U+200B (ZERO WIDTH SPACE), {FORMATTING}."),
        ("db\u00adweb", f"Character 3 of the name is U+00AD (SOFT HYPHEN), {FORMATTING}."),
        (
            "db\u2028web",
            "Character 3 of the name is U+2028 (LINE SEPARATOR), a line separator, which OpenStack refuses in a "
            "name.",
        ),
        ("db\ue000", "Character 3 of the name is U+E000, a private-use character, which OpenStack refuses in a name."),
        ("db\u0378", "Character 3 of the name is U+0378, an unassigned code point, which OpenStack refuses in a name."),
    ],
    ids=[
        "tab", "newline", "emoji", "astral-letter", "zero-width-space", "soft-hyphen", "line-separator",
        "private-use", "unassigned",
    ],
)  # fmt: skip
def test_a_name_openstack_refuses_is_400_on_name_saying_why(world, owner, via, name, message):
    assert assert_field_error(create(owner, world, name, via=via), "name") == [message]
    assert not ServerGroup.objects.exists()


def test_drf_and_the_openstack_rule_both_speak_when_both_refuse(world, owner):
    too_long = assert_field_error(create(owner, world, "\U0001f680" * 151), "name")
    with_nul = assert_field_error(create(owner, world, "db\x00web"), "name")
    surrogate = json.dumps({"tenant": tenant_url(world.tenant), "name": "db\ud800"})  # escaped: valid JSON
    posted = owner.generic("POST", GROUPS, surrogate, content_type="application/json")
    with_surrogate = assert_field_error(posted, "name")

    assert too_long == [
        f"Character 1 of the name is U+1F680 (ROCKET), {BEYOND_U_FFFF}.",
        "Ensure this field has no more than 150 characters.",
    ]
    assert with_nul == [f"Character 3 of the name is U+0000, {CONTROL}.", "Null characters are not allowed."]
    assert with_surrogate == [
        "Character 3 of the name is U+D800, a surrogate code point, which OpenStack refuses in a name.",
        "Surrogate characters are not allowed: U+D800.",
    ]
    assert not ServerGroup.objects.exists()


@pytest.mark.parametrize(
    "name",
    [
        "web",
        "db-01",
        "My group (prod)",
        "a.b:c/d_e+f@g",
        "Zürich-实验",
        "web servers",
        "d\u00a0b",  # a no-break space inside
        "e\u0301",  # a combining mark
        "\u2603 snow",  # a symbol below U+FFFF
        "\u2764\ufe0f",  # an emoji written within U+FFFF
        "it's \"quoted\" \\ back",
        "x" * 150,
        "ü" * 150,
    ],
    ids=[
        "plain", "digits", "parentheses", "punctuation", "non-ascii-letters", "inner-space", "inner-no-break-space",
        "combining-mark", "bmp-symbol", "bmp-emoji", "quotes-and-backslash", "longest", "longest-non-ascii",
    ],
)  # fmt: skip
def test_names_openstack_accepts_are_created_as_given(world, owner, name, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = create(owner, world, name)

    assert response.status_code == 201, response.content
    assert response.json()["name"] == name
    group = ServerGroup.objects.get(uuid=response.json()["uuid"])
    assert (group.name, group.state) == (name, State.OK)
    assert memory_project(world.tenant).groups[group.backend_id].name == name


@pytest.mark.parametrize(
    "name", [" web ", "\u3000web\u00a0", "web\n", "\tweb"], ids=["spaces", "unicode-spaces", "newline", "tab"]
)
def test_whitespace_at_either_end_is_trimmed_not_refused(world, owner, name):
    response = create(owner, world, name)

    assert response.status_code == 201, response.content
    assert response.json()["name"] == "web"


@pytest.mark.parametrize("method", ["patch", "put"])
def test_a_rename_openstack_would_refuse_is_400(world, owner, method):
    group = make_group(world.tenant, "web")

    response = getattr(owner, method)(group_path(group), {"name": "web-\U0001f680"}, format="json")

    assert assert_field_error(response, "name") == [f"Character 5 of the name is U+1F680 (ROCKET), {BEYOND_U_FFFF}."]
    group.refresh_from_db()
    assert (group.name, group.state) == ("web", State.OK)


def test_a_refused_rename_does_not_start_a_policy_replacement(world, owner):
    group = make_group(world.tenant, "web")

    response = owner.patch(group_path(group), {"name": "db\tweb", "policy": "anti-affinity"}, format="json")

    assert_field_error(response, "name")
    group.refresh_from_db()
    assert (group.name, group.policy, group.state) == ("web", "affinity", State.OK)


def test_a_rename_to_an_unusual_good_name_is_accepted(world, owner):
    group = make_group(world.tenant, "web")

    response = owner.patch(group_path(group), {"name": "Zürich-实验"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["name"] == "Zürich-实验"
