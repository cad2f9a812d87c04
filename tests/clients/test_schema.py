"""The OpenAPI schema at /api/schema/: what it names, what it promises, and that real answers keep it.

Server-group answers are rendered from the declaration that also documents them (`wire.SERVER_GROUP`),
not by a serializer; the last tests here send real requests and validate every answer against the
schema served, so the documentation cannot drift from the renderer without a failure here.
"""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from cohort.openstack.api.serializers import ServerGroupCreateSerializer, ServerGroupWriteSerializer
from cohort.openstack.api.wire import SERVER_GROUP
from cohort.openstack.filtersets import ServerGroupFilter
from cohort.openstack.models import Instance
from cohort.openstack.placement import refresh_placement
from tests.api.support import GROUPS, group_path, tenant_path
from tests.clients import openapi
from tests.conftest import make_group

pytestmark = pytest.mark.django_db

GROUP = "/api/openstack-server-groups/{uuid}/"
TENANT = "/api/openstack-tenants/{uuid}/"

# operationId -> (method, path), as the published client calls them
OPERATIONS = {
    "openstack_server_groups_list": ("get", GROUPS),
    "openstack_server_groups_count": ("head", GROUPS),
    "openstack_server_groups_create": ("post", GROUPS),
    "openstack_server_groups_retrieve": ("get", GROUP),
    "openstack_server_groups_update": ("put", GROUP),
    "openstack_server_groups_partial_update": ("patch", GROUP),
    "openstack_server_groups_destroy": ("delete", GROUP),
    "openstack_server_groups_pull": ("post", GROUP + "pull/"),
    "openstack_server_groups_placement_retrieve": ("get", GROUP + "placement/"),  # Cohort's own
    "openstack_server_groups_heal": ("post", GROUP + "heal/"),  # Cohort's own
    "openstack_server_groups_unlink": ("post", GROUP + "unlink/"),
    "openstack_server_groups_set_ok": ("post", GROUP + "set_ok/"),
    "openstack_server_groups_set_erred": ("post", GROUP + "set_erred/"),
    "openstack_tenants_create_server_group": ("post", TENANT + "create_server_group/"),
    "openstack_tenants_pull_server_groups": ("post", TENANT + "pull_server_groups/"),
    "openstack_tenants_pull_quotas": ("post", TENANT + "pull_quotas/"),
    "openstack_tenants_set_quotas": ("post", TENANT + "set_quotas/"),
}

# operationId -> the statuses the contract gives it (success first)
STATUSES = {
    "openstack_server_groups_list": {200, 400, 401, 404},
    "openstack_server_groups_count": {200, 400, 401, 404},
    "openstack_server_groups_create": {201, 400, 401, 403, 409},
    "openstack_server_groups_retrieve": {200, 401, 404},
    "openstack_server_groups_update": {200, 400, 401, 403, 404, 409},
    "openstack_server_groups_partial_update": {200, 400, 401, 403, 404, 409},
    "openstack_server_groups_destroy": {204, 401, 403, 404, 409},
    "openstack_server_groups_pull": {202, 401, 403, 404, 409},
    "openstack_server_groups_placement_retrieve": {200, 401, 404},
    "openstack_server_groups_heal": {200, 202, 400, 401, 403, 404, 409},
    "openstack_server_groups_unlink": {204, 401, 403, 404},
    "openstack_server_groups_set_ok": {200, 401, 403, 404},
    "openstack_server_groups_set_erred": {200, 400, 401, 403, 404},
    "openstack_tenants_create_server_group": {201, 400, 401, 403, 404, 409},
    "openstack_tenants_pull_server_groups": {202, 401, 403, 404, 409},
    "openstack_tenants_pull_quotas": {202, 401, 403, 404, 409},
    "openstack_tenants_set_quotas": {202, 400, 401, 403, 404, 409},
}

UUID_FILTERS = ("uuid", "customer", "customer_uuid", "project", "project_uuid", "service_settings_uuid", "tenant_uuid")
TEXT_FILTERS = (
    "name", "description", "name_exact", "backend_id", "tenant", "customer_name", "customer_native_name",
    "customer_abbreviation", "project_name", "service_settings_name", "external_ip",
)  # fmt: skip
STATES = ["CREATION_SCHEDULED", "CREATING", "UPDATE_SCHEDULED", "UPDATING", "DELETION_SCHEDULED", "DELETING", "OK",
          "ERRED"]  # fmt: skip
POLICIES = ["affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity"]
FIELDS = list(SERVER_GROUP.names)
NULL_KEYS = [name for name in FIELDS if name.startswith(("marketplace_", "is_"))] + ["access_url"]


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200, response.content[:500]
    return json.loads(response.content)


def operation(schema: dict, operation_id: str) -> dict:
    method, path = OPERATIONS[operation_id]
    return schema["paths"][path][method]


def parameters(schema: dict, operation_id: str) -> dict[str, dict]:
    return {p["name"]: p for p in operation(schema, operation_id).get("parameters", []) if p["in"] == "query"}


# --- generation ---------------------------------------------------------------------------------------------


def test_the_schema_generates_without_a_warning_and_is_valid_openapi_3(tmp_path):
    out = tmp_path / "schema.json"
    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", "--file", str(out))
    assert json.loads(out.read_text())["openapi"].startswith("3.")


@pytest.mark.parametrize("authorization", [None, "Token " + "0" * 40, "Bearer nonsense"])
def test_the_schema_needs_no_authentication(authorization):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    for accept, media_type in (("application/json", "application/json"), ("*/*", "application/vnd.oai.openapi")):
        response = APIClient().get("/api/schema/", HTTP_ACCEPT=accept, **headers)
        assert response.status_code == 200 and response["Content-Type"].startswith(media_type)


# --- operations, parameters, enums, statuses ---------------------------------------------------------------


@pytest.mark.parametrize("operation_id", sorted(OPERATIONS))
def test_operation_ids_are_the_reference_clients(schema, operation_id):
    assert operation(schema, operation_id)["operationId"] == operation_id


def test_every_server_group_operation_is_documented_and_no_other(schema):
    documented = {
        op["operationId"]
        for path, item in schema["paths"].items()
        if "server-group" in path or "server_group" in path
        for op in item.values()
    }
    assert documented == {name for name in OPERATIONS if "quotas" not in name}


def test_tenants_document_their_quotas_in_the_references_shape(schema):
    components = schema["components"]["schemas"]
    assert components["Tenant"]["properties"]["quotas"]["items"] == {"$ref": "#/components/schemas/Quota"}
    quota = components["Quota"]["properties"]
    assert (list(quota), quota["name"]["type"], quota["limit"]["nullable"]) == (
        ["name", "limit", "usage"],
        "string",
        True,
    )
    body = operation(schema, "openstack_tenants_set_quotas")["requestBody"]["content"]["application/json"]["schema"]
    bounds = components[body["$ref"].rsplit("/", 1)[1]]["properties"]["server_group_count"]
    assert (bounds["minimum"], bounds["maximum"]) == (-1, 2**31 - 1)


@pytest.mark.parametrize("operation_id", sorted(STATUSES))
def test_documented_statuses_are_the_contracts(schema, operation_id):
    assert {int(status) for status in operation(schema, operation_id)["responses"]} == STATUSES[operation_id]


def test_state_and_policy_are_enums(schema):
    assert openapi.component(schema, "CoreStates")["enum"] == STATES
    assert openapi.component(schema, "PolicyEnum")["enum"] == POLICIES
    group = openapi.component(schema, "OpenStackServerGroup")["properties"]
    assert group["state"]["allOf"] == [{"$ref": "#/components/schemas/CoreStates"}]
    assert group["policy"]["allOf"] == [{"$ref": "#/components/schemas/PolicyEnum"}]
    request_policy = openapi.component(schema, "OpenStackServerGroupRequest")["properties"]["policy"]
    assert {"$ref": "#/components/schemas/PolicyEnum"} in request_policy["oneOf"]


@pytest.mark.parametrize("operation_id", ["openstack_server_groups_list", "openstack_server_groups_count"])
def test_every_filter_of_the_contract_is_a_query_parameter(schema, operation_id):
    params = parameters(schema, operation_id)
    for name in UUID_FILTERS:
        assert params[name]["schema"] == {"type": "string", "format": "uuid"}, name
    for name in TEXT_FILTERS:
        assert params[name]["schema"] == {"type": "string"}, name
    assert params["can_manage"]["schema"] == {"type": "boolean"}
    assert params["state"]["schema"] == {"type": "array", "items": {"$ref": "#/components/schemas/CoreStates"}}
    assert params["state"]["explode"] is True
    assert params["o"]["schema"]["items"]["enum"][:2] == ["name", "-name"]
    assert params["page"]["schema"] == params["page_size"]["schema"] == {"type": "integer"}


@pytest.mark.parametrize("operation_id", ["openstack_server_groups_list", "openstack_server_groups_count"])
def test_the_documented_filters_are_the_filtersets(schema, operation_id):
    """No filter without its documentation, and no documented parameter that filters nothing."""
    documented = {name for name in parameters(schema, operation_id) if name not in ("field", "page", "page_size")}
    assert documented == set(ServerGroupFilter.base_filters)
    for name, param in parameters(schema, operation_id).items():
        assert param.get("description"), f"?{name}= has no description: give its filter a help_text"


def test_field_is_a_repeated_array_of_the_response_keys(schema):
    for operation_id in ("openstack_server_groups_list", "openstack_server_groups_retrieve"):
        field = parameters(schema, operation_id)["field"]
        assert field["explode"] is True and field["schema"]["items"]["enum"] == list(FIELDS)
    assert "field" not in parameters(schema, "openstack_server_groups_count")


def test_list_and_count_document_the_result_count_and_link_headers(schema):
    for operation_id in ("openstack_server_groups_list", "openstack_server_groups_count"):
        assert set(operation(schema, operation_id)["responses"]["200"]["headers"]) == {"X-Result-Count", "Link"}
    assert "content" not in operation(schema, "openstack_server_groups_count")["responses"]["200"]


def test_create_on_the_collection_documents_the_tenant_key(schema):
    body = operation(schema, "openstack_server_groups_create")["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/OpenStackServerGroupCreateRequest"}
    request = openapi.component(schema, "OpenStackServerGroupCreateRequest")
    assert request["required"] == ["name"] and "tenant" in request["properties"]
    assert list(openapi.component(schema, "OpenStackServerGroupRequest")["properties"]) == [
        "name",
        "description",
        "policy",
        "rules",
    ]


@pytest.mark.parametrize(
    "component, serializer",
    [
        ("OpenStackServerGroupRequest", ServerGroupWriteSerializer),
        ("PatchedOpenStackServerGroupRequest", ServerGroupWriteSerializer),
        ("OpenStackServerGroupCreateRequest", ServerGroupCreateSerializer),
    ],
)
def test_request_bodies_are_documented_by_the_serializers_that_validate_them(schema, component, serializer):
    documented = openapi.component(schema, component)
    fields = serializer().fields
    assert list(documented["properties"]) == list(fields)
    if not component.startswith("Patched"):
        assert documented["required"] == [name for name, field in fields.items() if field.required]
    assert documented["properties"]["rules"]["allOf"] == [{"$ref": "#/components/schemas/ServerGroupRulesRequest"}]


def test_the_documented_rule_bounds_are_the_validated_ones(schema):
    bounds = openapi.component(schema, "ServerGroupRulesRequest")["properties"]["max_server_per_host"]
    assert openapi.component(schema, "ServerGroupRules")["properties"]["max_server_per_host"] == bounds
    low, high = bounds["minimum"], bounds["maximum"]

    def accepted(value) -> bool:
        body = {"name": "g", "policy": "anti-affinity", "rules": {"max_server_per_host": value}}
        return ServerGroupWriteSerializer(data=body).is_valid()

    assert [accepted(value) for value in (low - 1, low, high, high + 1)] == [False, True, True, False]


def test_the_token_scheme_is_documented(schema):
    assert schema["components"]["securitySchemes"]["tokenAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": 'Token-based authentication with required prefix "Token"',
    }
    assert {"tokenAuth": []} in operation(schema, "openstack_server_groups_list")["security"]


# --- the documented object is the rendered object ----------------------------------------------------------


def test_the_documented_group_has_every_key_in_the_contracts_order(schema):
    group = openapi.component(schema, "OpenStackServerGroup")
    assert list(group["properties"]) == list(FIELDS)
    assert "required" not in group  # `?field=` may leave any key out
    for name in NULL_KEYS:
        assert group["properties"][name].get("nullable") is True, name
    for name in set(FIELDS) - set(NULL_KEYS):
        assert not group["properties"][name].get("nullable"), name


@pytest.fixture
def groups(world):
    from cohort.openstack.models import Instance

    members = make_group(world.tenant, "with-members", policy="anti-affinity", rules={"max_server_per_host": 2})
    Instance.objects.create(tenant=world.tenant, server_group=members, name="vm-1", backend_id="srv-1")
    Instance.objects.create(tenant=world.tenant, server_group=members, name="", backend_id="srv-2")
    make_group(world.tenant, "erred", state="ERRED", error_message="Nova said no", error_traceback="trace")
    make_group(world.other_tenant, "creating", state="CREATING", policy="soft-affinity")
    return members


def check(schema, path, method, response):
    body = json.loads(response.content) if response.content else None
    openapi.assert_conforms(schema, path, method, response.status_code, body)
    return body


def test_every_answer_of_the_renderer_keeps_the_schema(schema, world, api, groups, django_capture_on_commit_callbacks):
    staff = api(world.users.staff)
    listed = check(schema, GROUPS, "get", staff.get(GROUPS, {"page_size": 300}))
    assert len(listed) == 3 and all(list(item) == list(FIELDS) for item in listed)
    check(schema, GROUPS, "get", staff.get(GROUPS, {"field": ["name", "instances", "rules"]}))
    check(schema, GROUPS, "get", staff.get(GROUPS, {"page": 9}))
    check(schema, GROUPS, "get", staff.get(GROUPS, {"uuid": "nonsense"}))
    for item in listed:
        check(schema, GROUP, "get", staff.get(f"{GROUPS}{item['uuid']}/"))
    check(schema, GROUP, "get", staff.get(f"{GROUPS}{'0' * 32}/"))
    check(schema, GROUP, "get", api().get(group_path(groups)))

    body = {
        "name": "new",
        "policy": "anti-affinity",
        "rules": {"max_server_per_host": 3},
        "tenant": str(world.tenant.uuid),
    }
    with django_capture_on_commit_callbacks(execute=True):
        created = check(schema, GROUPS, "post", staff.post(GROUPS, body, format="json"))
        in_tenant = staff.post(tenant_path(world.tenant, "create_server_group/"), {"name": "other"}, format="json")
        check(schema, TENANT + "create_server_group/", "post", in_tenant)
    check(schema, GROUPS, "post", staff.post(GROUPS, {"name": ""}, format="json"))
    path = f"{GROUPS}{created['uuid']}/"
    check(schema, GROUP, "put", staff.put(path, {"name": "renamed"}, format="json"))
    check(schema, GROUP, "patch", staff.patch(path, {"description": "d"}, format="json"))
    check(schema, GROUP, "patch", staff.patch(path, {"rules": {"max_server_per_host": 0}}, format="json"))
    check(schema, GROUP + "pull/", "post", staff.post(path + "pull/"))
    check(schema, GROUP + "set_erred/", "post", staff.post(path + "set_erred/", {"error_message": "x"}, format="json"))
    check(schema, GROUP + "set_ok/", "post", staff.post(path + "set_ok/"))
    check(schema, GROUP + "pull/", "post", staff.post(group_path(groups, "pull/")))
    check(schema, TENANT + "pull_server_groups/", "post", staff.post(tenant_path(world.tenant, "pull_server_groups/")))
    check(schema, GROUP, "delete", staff.delete(path))
    check(schema, GROUP, "delete", staff.delete(path))  # already going: 409
    check(schema, GROUP + "unlink/", "post", staff.post(path + "unlink/"))
    check(schema, GROUP + "unlink/", "post", api(world.users.owner).post(group_path(groups, "unlink/")))


def test_a_wrong_type_or_value_would_be_caught(schema):
    """The checker itself: a renderer that drifted would fail the test above."""
    good = {
        "uuid": "0" * 32,
        "state": "OK",
        "policy": "affinity",
        "access_url": None,
        "created": "2026-01-01T00:00:00Z",
    }
    openapi.assert_conforms(schema, GROUP, "get", 200, good)
    for bad in ({"state": "Erred"}, {"policy": None}, {"uuid": "0" * 31}, {"created": "2026-01-01T00:00:00"},
                {"instances": [None]}, {"is_usage_based": "no"}):  # fmt: skip
        with pytest.raises(AssertionError):
            openapi.assert_conforms(schema, GROUP, "get", 200, {**good, **bad})
    with pytest.raises(AssertionError, match="not documented"):
        openapi.assert_conforms(schema, GROUP, "get", 418, good)


def test_the_event_log_is_documented_as_the_published_client_calls_it(schema):
    paths = schema["paths"]
    assert {method: op["operationId"] for method, op in paths["/api/events/"].items()} == {
        "get": "events_list",
        "head": "events_count",
    }
    assert paths["/api/events/{uuid}/"]["get"]["operationId"] == "events_retrieve"
    assert paths["/api/events/count/"]["get"]["operationId"] == "events_count_retrieve"
    listing = {p["name"]: p["schema"] for p in paths["/api/events/"]["get"]["parameters"]}
    assert set(listing) == {
        "scope", "event_type", "customer_uuid", "project_uuid", "created_from", "created_to", "message", "o",
        "field", "page", "page_size",
    }  # fmt: skip
    assert listing["created_from"]["type"] == listing["created_to"]["type"] == "number"  # Unix timestamps
    assert listing["event_type"]["type"] == "array" and listing["field"]["type"] == "array"
    assert set(listing["o"]["items"]["enum"]) == {"created", "-created"}
    assert set(listing["field"]["items"]["enum"]) == {"uuid", "created", "event_type", "message", "context"}
    headers = paths["/api/events/"]["get"]["responses"]["200"]["headers"]
    assert set(headers) == {"X-Result-Count", "Link"}
    event = schema["components"]["schemas"]["Event"]["properties"]
    assert set(event) == {"uuid", "created", "event_type", "message", "context"}


def test_the_placement_report_documents_its_plan_and_keeps_the_schema(schema, world, api):
    components = schema["components"]["schemas"]
    assert {"plan", "blocked", "last_heal"} <= set(components["Placement"]["properties"])
    assert list(components["PlanMove"]["properties"]) == ["server", "from", "reason"]
    assert list(components["PlanServer"]["properties"]) == ["uuid", "name"]
    assert list(components["LastHeal"]["properties"])[:4] == ["started", "finished", "moves_done", "stopped_because"]
    group = make_group(world.tenant, "crowded", policy="anti-affinity")
    for n, host in enumerate(["a" * 56, "a" * 56, "b" * 56]):
        Instance.objects.create(
            tenant=world.tenant, server_group=group, name=f"vm-{n}", backend_id=f"c-{n}", host_id=host, status="ACTIVE"
        )
    refresh_placement([group])
    path = group_path(group, "placement/")
    for user in (world.users.staff, world.users.member):
        report = check(schema, GROUP + "placement/", "get", api(user).get(path))
        assert [move["server"]["name"] for move in report["plan"]] == ["vm-1"]
        assert (report["blocked"], report["last_heal"]) == (None, None)
    with pytest.raises(AssertionError):  # the checker would catch a move of the wrong shape
        openapi.assert_conforms(schema, GROUP + "placement/", "get", 200, {**report, "plan": [{"server": "vm-1"}]})
