"""Error answers (CONTRACT sections 1, 2, 3 and 6): DRF's shapes, always JSON, never a 500.

Every response here goes through `assert_error`, which checks the status, the JSON content type and,
where the contract fixes it, the exact body. A refused write must leave nothing behind.
"""

from __future__ import annotations

import json

import pytest

from cohort.core.states import State
from cohort.openstack.models import Instance, ServerGroup
from tests.api.support import (
    GROUPS,
    assert_error,
    assert_field_error,
    group_path,
    tenant_path,
    tenant_url,
)
from tests.conftest import make_group, make_tenant

NOT_OK = {"detail": "Valid states for operation: OK."}
NOT_SETTLED = {"detail": "Valid states for operation: OK, Erred."}
NAME_TAKEN = {"non_field_errors": ["Server group name should be unique."]}
TRANSITIONAL = [
    "CREATION_SCHEDULED",
    "CREATING",
    "UPDATE_SCHEDULED",
    "UPDATING",
    "DELETION_SCHEDULED",
    "DELETING",
]


@pytest.fixture
def owner(world, api):
    return api(world.users.owner)


def create(client, world, body, *, via="collection"):
    if via == "collection":
        return client.post(GROUPS, {"tenant": tenant_url(world.tenant), **body}, format="json")
    return client.post(tenant_path(world.tenant, "create_server_group/"), body, format="json")


VIAS = ["collection", "tenant"]


# --- bad fields on create -----------------------------------------------------------------------------------


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize(
    "body, field, message",
    [
        ({}, "name", "This field is required."),
        ({"description": "no name"}, "name", "This field is required."),
        ({"name": ""}, "name", "This field may not be blank."),
        ({"name": "   "}, "name", "This field may not be blank."),
        ({"name": None}, "name", "This field may not be null."),
        ({"name": "x" * 151}, "name", "Ensure this field has no more than 150 characters."),
        (
            {"name": "ok", "description": "d" * 2001},
            "description",
            "Ensure this field has no more than 2000 characters.",
        ),
        ({"name": "ok", "policy": "bogus"}, "policy", '"bogus" is not a valid choice.'),
        ({"name": "ok", "policy": "Affinity"}, "policy", '"Affinity" is not a valid choice.'),
    ],
)
def test_bad_field_on_create_is_400_naming_the_field(world, owner, via, body, field, message):
    response = create(owner, world, body, via=via)
    assert assert_field_error(response, field) == [message]
    assert not ServerGroup.objects.exists()


@pytest.mark.parametrize("via", VIAS)
def test_longest_name_and_description_are_accepted(world, owner, via):
    response = create(owner, world, {"name": "x" * 150, "description": "d" * 2000}, via=via)
    assert response.status_code == 201
    assert (len(response.json()["name"]), len(response.json()["description"])) == (150, 2000)


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("policy", ["affinity", "soft-affinity", "soft-anti-affinity", None])
def test_rules_without_anti_affinity_are_400(world, owner, via, policy):
    body = {"name": "g", "rules": {"max_server_per_host": 2}}
    if policy:
        body["policy"] = policy
    messages = assert_field_error(create(owner, world, body, via=via), "rules")
    assert "anti-affinity" in messages[0]
    assert not ServerGroup.objects.exists()


@pytest.mark.parametrize("via", VIAS)
def test_rules_with_anti_affinity_are_accepted(world, owner, via):
    body = {"name": "g", "policy": "anti-affinity", "rules": {"max_server_per_host": 3}}
    response = create(owner, world, body, via=via)
    assert response.status_code == 201, response.content
    assert response.json()["rules"] == {"max_server_per_host": 3}
    assert ServerGroup.objects.get(name="g").rules == {"max_server_per_host": 3}


@pytest.mark.parametrize(
    "rules",
    [
        {"max_server_per_host": 0},
        {"max_server_per_host": -1},
        {"max_server_per_host": "2"},
        {"max_server_per_host": 1.5},
        {"max_server_per_host": True},
        {"max_server_per_host": None},
        {"max_servers": 2},
        {"max_server_per_host": 2, "other": 1},
        [2],
        "max_server_per_host=2",
        7,
    ],
)
def test_rules_with_bad_values_are_400(world, owner, rules):
    body = {"name": "g", "policy": "anti-affinity", "rules": rules}
    assert_field_error(create(owner, world, body), "rules")
    assert not ServerGroup.objects.exists()


@pytest.mark.parametrize(
    "rules, message",
    [
        ([2], 'Rules must be an object such as {"max_server_per_host": 2}.'),
        ({"max_server_per_host": 0}, "max_server_per_host must be an integer from 1 to 2147483647."),
        ({"max_server_per_host": 10**26}, "max_server_per_host must be an integer from 1 to 2147483647."),
    ],
)
def test_rules_error_messages_say_what_is_expected(world, owner, rules, message):
    body = {"name": "g", "policy": "anti-affinity", "rules": rules}
    assert assert_field_error(create(owner, world, body), "rules") == [message]


# --- uniqueness -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("via", VIAS)
def test_duplicate_name_in_the_same_tenant_is_400(world, owner, via):
    make_group(world.tenant, "dup")
    assert_error(create(owner, world, {"name": "dup"}, via=via), 400, NAME_TAKEN)
    assert ServerGroup.objects.filter(name="dup").count() == 1


def test_same_name_in_another_tenant_is_allowed(world, api):
    make_group(world.tenant, "dup")
    staff = api(world.users.staff)
    response = staff.post(GROUPS, {"name": "dup", "tenant": tenant_url(world.other_tenant)}, format="json")
    assert response.status_code == 201, response.content
    assert ServerGroup.objects.filter(name="dup").count() == 2


def test_renaming_onto_a_taken_name_is_400(world, owner):
    make_group(world.tenant, "taken")
    group = make_group(world.tenant, "mine")
    assert_error(owner.patch(group_path(group), {"name": "taken"}, format="json"), 400, NAME_TAKEN)
    group.refresh_from_db()
    assert group.name == "mine"


# --- which tenant ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reference",
    [
        "http://testserver/api/openstack-tenants/" + "0" * 32 + "/",
        "0" * 32,
        "00000000-0000-0000-0000-000000000000",
        "not a tenant",
        "http://testserver/api/openstack-tenants/",
    ],
)
def test_unknown_tenant_on_the_collection_is_400(world, owner, reference):
    assert_field_error(owner.post(GROUPS, {"name": "g", "tenant": reference}, format="json"), "tenant")
    assert not ServerGroup.objects.exists()


def test_unknown_tenant_on_the_tenant_action_is_404(world, owner):
    response = owner.post(f"/api/openstack-tenants/{'0' * 32}/create_server_group/", {"name": "g"}, format="json")
    assert_error(response, 404, {"detail": "Not found."})


@pytest.mark.parametrize("form", ["url", "hex", "dashed"])
def test_tenant_given_as_url_or_uuid(world, owner, form):
    reference = {
        "url": tenant_url(world.tenant),
        "hex": world.tenant.uuid.hex,
        "dashed": str(world.tenant.uuid),
    }
    response = owner.post(GROUPS, {"name": "g", "tenant": reference[form]}, format="json")
    assert response.status_code == 201
    assert response.json()["tenant_uuid"] == world.tenant.uuid.hex


def test_no_tenant_with_exactly_one_manageable_ok_tenant_uses_it(world, owner):
    response = owner.post(GROUPS, {"name": "g"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["tenant_uuid"] == world.tenant.uuid.hex


def test_no_tenant_ignores_tenants_not_in_state_ok(world, owner):
    make_tenant("acme-second", world.web, world.cloud, backend_id="acme-second").__class__.objects.filter(
        name="acme-second"
    ).update(state=State.ERRED)
    response = owner.post(GROUPS, {"name": "g"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["tenant_uuid"] == world.tenant.uuid.hex


def test_no_tenant_with_two_manageable_tenants_is_400(world, owner):
    make_tenant("acme-second", world.web, world.cloud)
    messages = assert_field_error(owner.post(GROUPS, {"name": "g"}, format="json"), "tenant")
    assert "tenant" in messages[0]
    assert not ServerGroup.objects.exists()


@pytest.mark.parametrize("role", ["member", "stranger"])
def test_no_tenant_with_no_manageable_tenant_is_400(world, api, role):
    client = api(getattr(world.users, role))
    assert_field_error(client.post(GROUPS, {"name": "g"}, format="json"), "tenant")
    assert not ServerGroup.objects.exists()


def test_no_tenant_for_staff_with_many_tenants_is_400(world, api):
    assert_field_error(api(world.users.staff).post(GROUPS, {"name": "g"}, format="json"), "tenant")


@pytest.mark.parametrize("state", [State.ERRED, State.CREATING, State.DELETION_SCHEDULED])
def test_tenant_not_ok_is_409(world, owner, state):
    type(world.tenant).objects.filter(pk=world.tenant.pk).update(state=state)
    assert_error(create(owner, world, {"name": "g"}, via="collection"), 409, NOT_OK)
    assert_error(create(owner, world, {"name": "g"}, via="tenant"), 409, NOT_OK)
    assert_error(owner.post(tenant_path(world.tenant, "pull_server_groups/")), 409, NOT_OK)
    assert not ServerGroup.objects.exists()


# --- malformed requests ------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"{bad json", b'{"name": "x",}', b"\xff\xfe", b'{"name": "x"'])
@pytest.mark.parametrize("path", [GROUPS, "tenant-action"])
def test_malformed_json_is_400(world, owner, body, path):
    url = tenant_path(world.tenant, "create_server_group/") if path == "tenant-action" else GROUPS
    response = owner.generic("POST", url, body, content_type="application/json")
    data = assert_error(response, 400)
    assert list(data) == ["detail"] and "JSON parse error" in data["detail"]


def test_malformed_json_on_update_is_400(world, owner):
    group = make_group(world.tenant, "g")
    response = owner.generic("PATCH", group_path(group), b"{oops", content_type="application/json")
    assert list(assert_error(response, 400)) == ["detail"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "text/csv"])
def test_wrong_media_type_is_415(world, owner, content_type):
    response = owner.generic("POST", GROUPS, b"name=x", content_type=content_type)
    data = assert_error(response, 415)
    assert data == {"detail": f'Unsupported media type "{content_type}" in request.'}


@pytest.mark.parametrize(
    "method, path",
    [
        ("PUT", "collection"),
        ("PATCH", "collection"),
        ("DELETE", "collection"),
        ("POST", "detail"),
        ("GET", "pull"),
        ("DELETE", "unlink"),
        ("GET", "create_server_group"),
        ("PUT", "tenant"),
        ("DELETE", "tenant"),
        ("POST", "tenants"),
    ],
)
def test_wrong_method_is_405(world, api, method, path):
    group = make_group(world.tenant, "g")
    url = {
        "collection": GROUPS,
        "detail": group_path(group),
        "pull": group_path(group, "pull/"),
        "unlink": group_path(group, "unlink/"),
        "create_server_group": tenant_path(world.tenant, "create_server_group/"),
        "tenant": tenant_path(world.tenant),
        "tenants": "/api/openstack-tenants/",
    }[path]
    response = api(world.users.staff).generic(method, url, b"{}", content_type="application/json")
    assert_error(response, 405, {"detail": f'Method "{method}" not allowed.'})
    assert ServerGroup.objects.filter(pk=group.pk, state=State.OK).exists()


@pytest.mark.parametrize(
    "path",
    [
        "/api/nothing-here/",
        "/api/openstack-server-groups",  # no trailing slash
        "/api/openstack-server-groups/not-a-uuid/",
        "/api/openstack-server-groups/" + "0" * 32 + "/nope/",
        "/api/openstack-tenants/" + "0" * 31 + "/",
        "/api/customers/x/y/z/",
    ],
)
@pytest.mark.parametrize("authenticated", [True, False])
def test_unknown_path_under_api_is_404_json(world, api, path, authenticated):
    client = api(world.users.staff if authenticated else None)
    assert_error(client.get(path), 404, {"detail": "Not found."})
    assert_error(client.post(path, {}, format="json"), 404, {"detail": "Not found."})


# --- state conflicts --------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["ERRED", *TRANSITIONAL])
@pytest.mark.parametrize("method", ["put", "patch"])
def test_update_outside_ok_is_409(world, owner, state, method):
    group = make_group(world.tenant, "g", state=state)
    response = getattr(owner, method)(group_path(group), {"name": "renamed", "policy": "affinity"}, format="json")
    assert_error(response, 409, NOT_OK)
    group.refresh_from_db()
    assert (group.name, group.state) == ("g", state)


@pytest.mark.parametrize("state", TRANSITIONAL)
def test_delete_in_a_transitional_state_is_409(world, owner, state):
    group = make_group(world.tenant, "g", state=state)
    assert_error(owner.delete(group_path(group)), 409, NOT_SETTLED)
    group.refresh_from_db()
    assert group.state == state


@pytest.mark.parametrize("state", ["OK", "ERRED"])
def test_delete_when_settled_is_204(world, owner, state):
    group = make_group(world.tenant, "g", state=state, backend_id="nova-g")
    response = owner.delete(group_path(group))
    assert response.status_code == 204 and response.content == b""
    group.refresh_from_db()
    assert group.state == State.DELETION_SCHEDULED


@pytest.mark.parametrize("state", ["OK", "ERRED"])
def test_pull_without_backend_id_is_409(world, owner, state):
    group = make_group(world.tenant, "g", state=state, backend_id="")
    data = assert_error(owner.post(group_path(group, "pull/")), 409)
    assert list(data) == ["detail"] and "backend id" in data["detail"]


@pytest.mark.parametrize("state", TRANSITIONAL)
def test_pull_in_a_transitional_state_is_409(world, owner, state):
    group = make_group(world.tenant, "g", state=state, backend_id="nova-g")
    assert_error(owner.post(group_path(group, "pull/")), 409, NOT_SETTLED)


def test_policy_change_on_a_group_with_members_is_409_saying_why(world, owner):
    group = make_group(world.tenant, "g", policy="affinity")
    Instance.objects.create(tenant=world.tenant, server_group=group, name="vm", backend_id="vm")
    data = assert_error(owner.patch(group_path(group), {"policy": "anti-affinity"}, format="json"), 409)
    assert list(data) == ["detail"] and "member" in data["detail"].lower()
    group.refresh_from_db()
    assert (group.policy, group.state) == ("affinity", State.OK)


def test_rules_on_update_with_affinity_are_400(world, owner):
    group = make_group(world.tenant, "g", policy="affinity")
    assert_field_error(owner.patch(group_path(group), {"rules": {"max_server_per_host": 2}}, format="json"), "rules")


@pytest.mark.parametrize("body", [{"error_message": ["a"]}, {"error_message": {"a": 1}}, {"error_traceback": {"x": 1}}])
def test_set_erred_with_bad_body_is_400(world, api, body):
    group = make_group(world.tenant, "g")
    response = api(world.users.staff).post(group_path(group, "set_erred/"), body, format="json")
    assert_error(response, 400)
    group.refresh_from_db()
    assert group.state == State.OK


# --- never a 500, always JSON ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("POST", GROUPS, []),
        ("POST", GROUPS, "just a string"),
        ("POST", GROUPS, 42),
        ("POST", GROUPS, {"name": ["list"]}),
        ("POST", GROUPS, {"name": {"nested": 1}}),
        ("POST", GROUPS, {"name": "g", "tenant": 5}),
        ("POST", GROUPS, {"name": "g", "tenant": ["x"]}),
        ("POST", GROUPS, {"name": "g", "tenant": None}),
        ("POST", GROUPS, {"name": "g", "policy": None}),
        ("POST", GROUPS, {"name": "g", "policy": ["affinity"]}),
        ("POST", GROUPS, {"name": "g", "description": None}),
        ("POST", GROUPS, {"name": "\x00"}),
        ("POST", "tenant-action", []),
        ("POST", "tenant-action", {"name": "g", "rules": {"max_server_per_host": 10**30}}),
        ("PATCH", "group", []),
        ("PATCH", "group", {"policy": None}),
        ("PUT", "group", {}),
    ],
)
def test_odd_bodies_are_4xx_json_not_500(world, owner, method, path, body):
    group = make_group(world.tenant, "existing")
    url = {
        "tenant-action": tenant_path(world.tenant, "create_server_group/"),
        "group": group_path(group),
    }.get(path, path)
    response = owner.generic(method, url, json.dumps(body), content_type="application/json")
    assert 400 <= response.status_code < 500, (response.status_code, response.content)
    assert_error(response, response.status_code)


@pytest.mark.parametrize(
    "params",
    [
        {"page_size": "-5"},
        {"page_size": "abc"},
        {"page_size": "0"},
        {"o": ""},
        {"state": ["", ""]},
        {"uuid": "\x00"},
        {"name": "\x00"},
        {"tenant": "http://evil.example/api/openstack-tenants/x/"},
        {"field": ["", "name"]},
        {"created": "not-a-date"},
    ],
)
def test_odd_query_params_never_500(world, owner, params):
    make_group(world.tenant, "g")
    response = owner.get(GROUPS, params)
    assert response.status_code in (200, 400), (response.status_code, response.content)
    assert response["Content-Type"].startswith("application/json")
