"""Who may do what (CONTRACT section 4), as a role x operation table, and token authentication.

Every cell of the table is one test: the status, the body of a refusal, and whether the operation
left its mark (a refused operation must change nothing).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cohort.core.states import State
from cohort.openstack.models import ServerGroup
from tests.api.support import (
    GROUPS,
    assert_error,
    assert_field_error,
    group_path,
    tenant_path,
    tenant_url,
)
from tests.conftest import make_group

ROLES = ("staff", "owner", "manager", "admin", "member", "stranger", "anonymous")
ACME_ROLES = ("owner", "manager", "admin", "member")

NOT_PROVIDED = {"detail": "Authentication credentials were not provided."}
FORBIDDEN = {"detail": "You do not have permission to perform this action."}
NOT_FOUND = {"detail": "Not found."}


@pytest.fixture
def groups(world):
    return {
        "acme": make_group(world.tenant, "acme-group"),
        "globex": make_group(world.other_tenant, "globex-group"),
    }


def client(api, world, role):
    return api(None if role == "anonymous" else getattr(world.users, role))


# --- the operations, each on acme's group or tenant -------------------------------------------------


def op_retrieve(c, world, group):
    return c.get(group_path(group))


def op_create_collection(c, world, group):
    return c.post(GROUPS, {"name": "new", "tenant": tenant_url(world.tenant)}, format="json")


def op_create_in_tenant(c, world, group):
    return c.post(tenant_path(world.tenant, "create_server_group/"), {"name": "new"}, format="json")


def op_put(c, world, group):
    return c.put(group_path(group), {"name": "renamed", "description": "d", "policy": "affinity"}, format="json")


def op_patch(c, world, group):
    return c.patch(group_path(group), {"name": "renamed"}, format="json")


def op_delete(c, world, group):
    return c.delete(group_path(group))


def op_pull(c, world, group):
    return c.post(group_path(group, "pull/"))


def op_unlink(c, world, group):
    return c.post(group_path(group, "unlink/"))


def op_set_ok(c, world, group):
    return c.post(group_path(group, "set_ok/"))


def op_set_erred(c, world, group):
    return c.post(group_path(group, "set_erred/"), {"error_message": "boom", "error_traceback": "tb"}, format="json")


def op_pull_server_groups(c, world, group):
    return c.post(tenant_path(world.tenant, "pull_server_groups/"))


def op_pull_quotas(c, world, group):
    return c.post(tenant_path(world.tenant, "pull_quotas/"))


def op_set_quotas(c, world, group):
    world.cloud.credentials = {"token": "admin:admin"}  # the cloud's own access: a cloud admin's
    world.cloud.save()
    return c.post(tenant_path(world.tenant, "set_quotas/"), {"server_group_count": 7}, format="json")


# --- the table ----------------------------------------------------------------------------------------
# operation: statuses for (staff, owner, manager, admin, member, stranger, anonymous)
TABLE = {
    op_retrieve: (200, 200, 200, 200, 200, 404, 401),
    op_create_collection: (201, 201, 201, 201, 403, 400, 401),
    op_create_in_tenant: (201, 201, 201, 201, 403, 404, 401),
    op_put: (200, 200, 200, 200, 403, 404, 401),
    op_patch: (200, 200, 200, 200, 403, 404, 401),
    op_delete: (204, 204, 204, 204, 403, 404, 401),
    op_pull: (202, 202, 202, 202, 403, 404, 401),
    op_unlink: (204, 403, 403, 403, 403, 404, 401),
    op_set_ok: (200, 403, 403, 403, 403, 404, 401),
    op_set_erred: (200, 403, 403, 403, 403, 404, 401),
    op_pull_server_groups: (202, 202, 202, 202, 403, 404, 401),
    op_pull_quotas: (202, 202, 202, 202, 403, 404, 401),
    op_set_quotas: (202, 403, 403, 403, 403, 404, 401),
}
CASES = [
    pytest.param(operation, role, status, id=f"{operation.__name__[3:]}-{role}-{status}")
    for operation, statuses in TABLE.items()
    for role, status in zip(ROLES, statuses, strict=True)
]

# what the group looks like after a successful operation (None: gone)
AFTER_SUCCESS = {
    op_put: {"name": "renamed", "state": State.OK},
    op_patch: {"name": "renamed", "state": State.OK},
    op_delete: {"name": "acme-group", "state": State.DELETION_SCHEDULED},
    op_unlink: None,
    op_set_ok: {"state": State.OK, "error_message": ""},
    op_set_erred: {"state": State.ERRED, "error_message": "boom", "error_traceback": "tb"},
}


@pytest.mark.parametrize("operation, role, status", CASES)
def test_role_operation_table(world, api, groups, operation, role, status):
    group = groups["acme"]
    response = operation(client(api, world, role), world, group)

    assert response.status_code == status, response.content
    if status == 401:
        assert_error(response, 401, NOT_PROVIDED)
        assert response["WWW-Authenticate"] == "Token"
    elif status == 403:
        assert_error(response, 403, FORBIDDEN)
    elif status == 404:
        assert_error(response, 404, NOT_FOUND)
    elif status == 400:
        assert "Tenant not found" in assert_field_error(response, "tenant")[0]
    elif status == 204:
        assert response.content == b""
    elif status == 202:
        body = response.json()
        if operation is op_set_quotas:  # what Nova now says, with the reference's `status`
            assert body["quotas"][0] == {"name": "server_group_count", "limit": 7, "usage": 1}
            body.pop("quotas")
        key = "status" if operation in (op_pull_server_groups, op_pull_quotas, op_set_quotas) else "detail"
        assert list(body) == [key] and isinstance(body[key], str) and body[key]
    elif status == 201:
        body = response.json()
        assert body["name"] == "new" and body["state"] == "CREATION_SCHEDULED"
        assert body["tenant_uuid"] == world.tenant.uuid.hex
    elif operation in (op_put, op_patch):
        assert response.json()["name"] == "renamed"
    elif operation is op_retrieve:
        assert response.json()["uuid"] == group.uuid.hex
    elif operation in (op_set_ok, op_set_erred):
        assert list(response.json()) == ["detail"]

    created = ServerGroup.objects.filter(name="new").count()
    assert created == (1 if status == 201 else 0)
    current = ServerGroup.objects.filter(pk=group.pk).values().first()
    expected = AFTER_SUCCESS.get(operation, {}) if status < 300 else {}
    if expected is None:
        assert current is None
    else:
        unchanged = {"name": "acme-group", "state": State.OK, "error_message": "", "error_traceback": ""}
        assert current is not None
        assert {key: current[key] for key in unchanged} == {**unchanged, **expected}


# --- what each role sees --------------------------------------------------------------------------------

VISIBLE = {
    "staff": {"acme-group", "globex-group"},
    "owner": {"acme-group"},
    "manager": {"acme-group"},
    "admin": {"acme-group"},
    "member": {"acme-group"},
    "stranger": set(),
}


@pytest.mark.parametrize("role", list(VISIBLE))
def test_list_shows_what_the_role_may_see(world, api, groups, role):
    response = client(api, world, role).get(GROUPS)
    assert response.status_code == 200
    assert {item["name"] for item in response.json()} == VISIBLE[role]
    assert response["X-Result-Count"] == str(len(VISIBLE[role]))


@pytest.mark.parametrize("method", ["get", "head"])
def test_anonymous_list_is_401_with_token_challenge(world, api, groups, method):
    response = getattr(api(None), method)(GROUPS)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    if method == "get":
        assert_error(response, 401, NOT_PROVIDED)


# (role) -> names for ?can_manage=true, names for ?can_manage=false
CAN_MANAGE = {
    "staff": ({"acme-group", "globex-group"}, set()),
    "owner": ({"acme-group"}, set()),
    "manager": ({"acme-group"}, set()),
    "admin": ({"acme-group"}, set()),
    "member": (set(), {"acme-group"}),
    "stranger": (set(), set()),
}


@pytest.mark.parametrize("role", list(CAN_MANAGE))
def test_can_manage_filter_per_role(world, api, groups, role):
    managed, unmanaged = CAN_MANAGE[role]
    c = client(api, world, role)
    assert {g["name"] for g in c.get(GROUPS, {"can_manage": "true"}).json()} == managed
    assert {g["name"] for g in c.get(GROUPS, {"can_manage": "false"}).json()} == unmanaged


@pytest.mark.parametrize("role", ACME_ROLES)
@pytest.mark.parametrize(
    "operation",
    [op_retrieve, op_put, op_patch, op_delete, op_pull, op_unlink, op_set_ok, op_set_erred],
    ids=lambda op: op.__name__[3:],
)
def test_globex_group_is_404_for_acme_roles(world, api, groups, role, operation):
    response = operation(client(api, world, role), world, groups["globex"])
    assert_error(response, 404, NOT_FOUND)
    assert ServerGroup.objects.get(pk=groups["globex"].pk).state == State.OK


@pytest.mark.parametrize("role", ACME_ROLES)
def test_globex_tenant_actions_are_404_and_collection_create_400_for_acme_roles(world, api, role):
    c = client(api, world, role)
    tenant = world.other_tenant
    assert_error(c.post(tenant_path(tenant, "create_server_group/"), {"name": "x"}, format="json"), 404, NOT_FOUND)
    assert_error(c.post(tenant_path(tenant, "pull_server_groups/")), 404, NOT_FOUND)
    assert_error(c.post(tenant_path(tenant, "pull_quotas/")), 404, NOT_FOUND)
    assert_error(c.post(tenant_path(tenant, "set_quotas/"), {"server_group_count": 1}, format="json"), 404, NOT_FOUND)
    assert_error(c.get(tenant_path(tenant)), 404, NOT_FOUND)  # nor its quotas
    assert_field_error(c.post(GROUPS, {"name": "x", "tenant": tenant_url(tenant)}, format="json"), "tenant")
    assert_field_error(c.post(GROUPS, {"name": "x", "tenant": tenant.uuid.hex}, format="json"), "tenant")
    assert not ServerGroup.objects.filter(name="x").exists()


def globex_events(world, globex_only) -> list:
    """Events about globex's things, and the staff-only ones (a cloud, a failed login): none for acme."""
    from django.db import transaction

    from cohort.events.services import event_record

    with transaction.atomic():
        about = [globex_only.group, globex_only.private_group, globex_only.tenant, world.other, world.globex]
        events = [event_record(event_type="openstack_server_group_pulled", message="x", scope=obj) for obj in about]
        events.append(event_record(event_type="service_settings_updated", message="x", scope=world.cloud))
        events.append(event_record(event_type="auth_login_failed_with_username", message="x"))
    return events


LIST_ENDPOINTS = {
    "events": globex_events,
    "openstack-server-groups": lambda w, g: [g.group, g.private_group],
    "openstack-tenants": lambda w, g: [w.other_tenant, g.tenant],
    "openstack-instances": lambda w, g: [g.server],
    "projects": lambda w, g: [w.other],
    "customers": lambda w, g: [w.globex],
    "service-settings": lambda w, g: [g.cloud],
}


@pytest.mark.parametrize("role", [*ACME_ROLES, "stranger"])
@pytest.mark.parametrize("endpoint", list(LIST_ENDPOINTS))
def test_nothing_of_globex_is_visible(world, api, globex_only, role, endpoint):
    c = client(api, world, role)
    hidden = {obj.uuid.hex for obj in LIST_ENDPOINTS[endpoint](world, globex_only)}

    response = c.get(f"/api/{endpoint}/", {"page_size": 300})
    assert response.status_code == 200, response.content
    seen = {item["uuid"] for item in response.json()}
    assert not seen & hidden
    if role == "stranger":
        assert seen == set()
    for uuid in hidden:
        assert_error(c.get(f"/api/{endpoint}/{uuid}/"), 404, NOT_FOUND)


@pytest.mark.parametrize(
    "endpoint, visible",
    [
        ("openstack-server-groups", lambda w, g: {g.group.uuid.hex, g.private_group.uuid.hex}),
        ("openstack-tenants", lambda w, g: {w.tenant.uuid.hex, w.other_tenant.uuid.hex, g.tenant.uuid.hex}),
        ("openstack-instances", lambda w, g: {g.server.uuid.hex}),
        ("projects", lambda w, g: {w.web.uuid.hex, w.other.uuid.hex}),
        ("customers", lambda w, g: {w.acme.uuid.hex, w.globex.uuid.hex}),
        ("service-settings", lambda w, g: {w.cloud.uuid.hex, g.cloud.uuid.hex}),
    ],
)
def test_staff_see_everything_and_acme_roles_see_acme(world, api, globex_only, endpoint, visible):
    everything = visible(world, globex_only)
    staff = api(world.users.staff).get(f"/api/{endpoint}/", {"page_size": 300})
    assert {item["uuid"] for item in staff.json()} == everything
    for uuid in everything:
        assert api(world.users.staff).get(f"/api/{endpoint}/{uuid}/").status_code == 200


@pytest.mark.parametrize("role", ACME_ROLES)
def test_acme_roles_see_acme_objects(world, api, role):
    c = client(api, world, role)
    expected = {
        "openstack-tenants": {world.tenant.uuid.hex},
        "projects": {world.web.uuid.hex},
        "customers": {world.acme.uuid.hex},
        "service-settings": {world.cloud.uuid.hex},
    }
    for endpoint, uuids in expected.items():
        assert {item["uuid"] for item in c.get(f"/api/{endpoint}/").json()} == uuids, endpoint


# --- the event log: each event as visible as what it is about --------------------------------------------


@pytest.fixture
def events(world, groups):
    """One event of each kind of scope, by name: acme's group, project and customer, globex's group and
    customer, and three that only staff see (a cloud, a failed login, a user)."""
    from django.db import transaction

    from cohort.events.services import event_record
    from cohort.structure.services import user_scope

    scopes = {
        "acme-group": groups["acme"],
        "acme-project": world.web,
        "acme-customer": world.acme,
        "globex-group": groups["globex"],
        "globex-customer": world.globex,
        "cloud": world.cloud,
        "failed-login": None,
        "user": user_scope(world.users.member),
    }
    with transaction.atomic():
        return {
            name: event_record(event_type="openstack_server_group_pulled", message=name, scope=scope)
            for name, scope in scopes.items()
        }


EVENTS_SEEN = {
    "staff": {"acme-group", "acme-project", "acme-customer", "globex-group", "globex-customer", "cloud",
              "failed-login", "user"},
    "owner": {"acme-group", "acme-project", "acme-customer"},
    "manager": {"acme-group", "acme-project"},
    "admin": {"acme-group", "acme-project"},
    "member": {"acme-group", "acme-project"},
    "stranger": set(),
}  # fmt: skip


@pytest.mark.parametrize("role", [*EVENTS_SEEN, "anonymous"])
def test_events_are_seen_exactly_as_what_they_concern(world, api, events, role):
    c = client(api, world, role)
    listed = c.get("/api/events/", {"page_size": 300})
    if role == "anonymous":
        assert_error(listed, 401, NOT_PROVIDED)
        assert_error(c.get(f"/api/events/{events['acme-group'].uuid.hex}/"), 401, NOT_PROVIDED)
        assert c.head("/api/events/").status_code == 401
        return
    ours = {event.uuid.hex: name for name, event in events.items()}
    seen = {ours[item["uuid"]] for item in listed.json() if item["uuid"] in ours}
    assert seen == EVENTS_SEEN[role]
    if role != "staff":  # staff also see the token their client was just given
        assert len(listed.json()) == len(seen) and listed["X-Result-Count"] == str(len(seen))
        assert c.head("/api/events/")["X-Result-Count"] == str(len(seen))
        assert c.get("/api/events/count/").json() == {"count": len(seen)}
    for name, event in events.items():
        response = c.get(f"/api/events/{event.uuid.hex}/")
        if name in EVENTS_SEEN[role]:
            assert response.status_code == 200 and response.json()["message"] == name
        else:
            assert_error(response, 404, NOT_FOUND)


@pytest.mark.parametrize("role", ACME_ROLES)
def test_no_filter_of_the_event_log_lets_globex_through(world, api, events, role):
    c = client(api, world, role)
    hidden = {events[name].uuid.hex for name in events if name not in EVENTS_SEEN[role]}
    globex_group = f"http://testserver/api/openstack-server-groups/{events['globex-group'].scope_uuid.hex}/"
    queries = [
        {"scope": globex_group},
        {"scope": f"http://testserver/api/customers/{world.globex.uuid.hex}/"},
        {"scope": f"http://testserver/api/service-settings/{world.cloud.uuid.hex}/"},
        {"customer_uuid": world.globex.uuid.hex},
        {"project_uuid": world.other.uuid.hex},
        {"event_type": "openstack_server_group_pulled"},
        {"message": "globex"},
        {"o": "created"},
    ]
    for query in queries:
        response = c.get("/api/events/", {**query, "page_size": 300})
        assert response.status_code == 200, (query, response.content)
        assert not {item["uuid"] for item in response.json()} & hidden, query


# --- token authentication -------------------------------------------------------------------------------


def _token(user):
    from cohort.core.authentication import digest, issue_token
    from cohort.core.models import Token

    key = issue_token(user)
    return key, Token.objects.get(digest=digest(key))


@pytest.mark.parametrize("keyword", ["Token", "token", "TOKEN", "ToKeN"])
def test_token_keyword_is_case_insensitive(world, api, groups, keyword):
    from rest_framework.test import APIClient

    key, _ = _token(world.users.owner)
    response = APIClient().get(GROUPS, HTTP_AUTHORIZATION=f"{keyword} {key}")
    assert response.status_code == 200
    assert [g["name"] for g in response.json()] == ["acme-group"]


def test_unknown_token_is_401_invalid_token(world):
    from rest_framework.test import APIClient

    response = APIClient().get(GROUPS, HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert_error(response, 401, {"detail": "Invalid token."})
    assert response["WWW-Authenticate"] == "Token"


def test_expired_token_is_401_token_has_expired(world, settings):
    from rest_framework.test import APIClient

    key, token = _token(world.users.owner)
    token.last_used = timezone.now() - timedelta(seconds=settings.TOKEN_LIFETIME_SECONDS + 5)
    token.save()
    response = APIClient().get(GROUPS, HTTP_AUTHORIZATION=f"Token {key}")
    assert_error(response, 401, {"detail": "Token has expired."})


def test_token_just_within_lifetime_still_works(world, settings):
    from rest_framework.test import APIClient

    key, token = _token(world.users.owner)
    token.last_used = timezone.now() - timedelta(seconds=settings.TOKEN_LIFETIME_SECONDS - 30)
    token.save()
    assert APIClient().get(GROUPS, HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


def test_use_after_renew_interval_renews_the_token(world, settings):
    from rest_framework.test import APIClient

    key, token = _token(world.users.owner)
    old = timezone.now() - timedelta(seconds=settings.TOKEN_RENEW_INTERVAL_SECONDS + 30)
    token.last_used = old
    token.save()
    before = timezone.now()
    assert APIClient().get(GROUPS, HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    token.refresh_from_db()
    assert token.last_used >= before


def test_use_within_renew_interval_does_not_write(world, settings):
    from rest_framework.test import APIClient

    key, token = _token(world.users.owner)
    recent = timezone.now() - timedelta(seconds=max(1, settings.TOKEN_RENEW_INTERVAL_SECONDS // 2))
    token.last_used = recent
    token.save()
    with CaptureQueriesContext(connection) as queries:
        assert APIClient().get(GROUPS, HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    writes = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE"))]
    assert writes == []
    token.refresh_from_db()
    assert token.last_used == recent


def test_renewal_keeps_an_old_but_used_token_alive(world, settings):
    """Sliding expiry: a token used regularly outlives its lifetime counted from issue."""
    from rest_framework.test import APIClient

    key, token = _token(world.users.owner)
    lifetime = settings.TOKEN_LIFETIME_SECONDS
    token.last_used = timezone.now() - timedelta(seconds=lifetime - 10)
    token.save()
    assert APIClient().get(GROUPS, HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    token.refresh_from_db()
    assert timezone.now() - token.last_used < timedelta(seconds=lifetime // 2)


def test_password_login_returns_a_working_token(world):
    from rest_framework.test import APIClient

    user = world.users.owner
    user.set_password("s3cret-pass")
    user.save()
    response = APIClient().post("/api-auth/password/", {"username": "owner", "password": "s3cret-pass"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["token"] and isinstance(body["token"], str) and body["token"]
    listed = APIClient().get(GROUPS, HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert listed.status_code == 200


@pytest.mark.parametrize(
    "credentials",
    [
        {"username": "owner", "password": "wrong"},
        {"username": "nobody", "password": "s3cret-pass"},
    ],
)
def test_password_login_with_bad_credentials_is_401(world, credentials):
    from rest_framework.test import APIClient

    user = world.users.owner
    user.set_password("s3cret-pass")
    user.save()
    response = APIClient().post("/api-auth/password/", credentials, format="json")
    data = assert_error(response, 401)
    assert list(data) == ["detail"]
    assert "token" not in data


def test_password_login_without_fields_is_400(world):
    from rest_framework.test import APIClient

    response = APIClient().post("/api-auth/password/", {}, format="json")
    data = assert_error(response, 400)
    assert set(data) == {"username", "password"}


def test_token_of_an_inactive_user_is_401_invalid_token(world):
    from rest_framework.test import APIClient

    key, _ = _token(world.users.owner)
    world.users.owner.is_active = False
    world.users.owner.save()
    response = APIClient().get(GROUPS, HTTP_AUTHORIZATION=f"Token {key}")
    assert_error(response, 401, {"detail": "Invalid token."})


@pytest.mark.parametrize("header", ["Token", "Token a b", "token  "])
def test_malformed_token_header_is_401(world, header):
    from rest_framework.test import APIClient

    response = APIClient().get(GROUPS, HTTP_AUTHORIZATION=header)
    assert_error(response, 401)
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("header", ["Bearer abc", "Basic b3duZXI6eA=="])
def test_other_schemes_are_not_credentials(world, header):
    from rest_framework.test import APIClient

    response = APIClient().get(GROUPS, HTTP_AUTHORIZATION=header)
    assert_error(response, 401, NOT_PROVIDED)


# --- the staff actions' effects ----------------------------------------------------------------------------


def test_set_ok_clears_the_error(world, api):
    group = make_group(world.tenant, "g", state=State.ERRED, error_message="boom", error_traceback="tb")
    response = api(world.users.staff).post(group_path(group, "set_ok/"))
    assert response.status_code == 200 and list(response.json()) == ["detail"]
    group.refresh_from_db()
    assert (group.state, group.error_message, group.error_traceback) == (State.OK, "", "")


def test_set_erred_without_body_sets_empty_error(world, api):
    group = make_group(world.tenant, "g")
    response = api(world.users.staff).post(group_path(group, "set_erred/"))
    assert response.status_code == 200 and list(response.json()) == ["detail"]
    group.refresh_from_db()
    assert (group.state, group.error_message, group.error_traceback) == (State.ERRED, "", "")


def test_unlink_removes_only_the_record(world, api):
    from tests.conftest import memory_project

    group = make_group(world.tenant, "g")
    calls_before = list(memory_project(world.tenant).calls)
    assert api(world.users.staff).post(group_path(group, "unlink/")).status_code == 204
    assert not ServerGroup.objects.filter(pk=group.pk).exists()
    assert api(world.users.staff).get(group_path(group)).status_code == 404
    assert memory_project(world.tenant).calls == calls_before
