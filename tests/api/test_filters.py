"""Every list filter of CONTRACT section 5, one by one: a value that keeps, one that drops, one that is bad.

Four groups spread so that each filter separates them: two in acme's tenant, one in globex's tenant on
the shared cloud, one in a globex tenant on a second cloud. Staff see all four.
"""

from __future__ import annotations

import uuid as uuidlib
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone
from django.utils.module_loading import import_string

from cohort.core.states import State
from cohort.openstack.models import ServerGroup
from cohort.structure.models import Customer, Project, ServiceSettings
from tests.api.support import GROUPS, assert_field_error, names
from tests.conftest import make_group, make_tenant

ALL = {"alpha", "beta", "gamma", "delta"}


@pytest.fixture
def f(world):
    second_cloud = ServiceSettings.objects.create(name="second cloud", auth_url="memory://two", auth_type="admin_token")
    initech = Customer.objects.create(name="Initech", native_name="Initech Inc", abbreviation="INI")
    lab = Project.objects.create(customer=initech, name="lab")
    zeta = make_tenant("zeta-tenant", lab, second_cloud)
    groups = SimpleNamespace(
        alpha=make_group(world.tenant, "alpha", description="The First group", state=State.OK),
        beta=make_group(world.tenant, "beta", description="second one", state=State.ERRED, backend_id="nova-b"),
        gamma=make_group(world.other_tenant, "gamma", state=State.CREATION_SCHEDULED, backend_id=""),
        delta=make_group(zeta, "delta", description="fourth", state=State.UPDATING, backend_id="nova-d"),
    )
    # distinct, known creation and modification times: created alpha < beta < gamma < delta,
    # modified in the opposite order
    base = timezone.now() - timedelta(days=1)
    for i, name in enumerate(["alpha", "beta", "gamma", "delta"]):
        ServerGroup.objects.filter(name=name).update(
            created=base + timedelta(minutes=i), modified=base + timedelta(minutes=10 - i)
        )
    return SimpleNamespace(world=world, cloud2=second_cloud, initech=initech, lab=lab, zeta=zeta, groups=groups)


@pytest.fixture
def staff(world, api):
    client = api(world.users.staff)

    def listed(params=None) -> set[str]:
        return set(names(client.get(GROUPS, params or {})))

    listed.client = client
    return listed


def dashed(hex_uuid: str) -> str:
    return str(uuidlib.UUID(hex_uuid))


# (param, value that keeps, names kept, value that drops, names kept by it)
def cases(f):
    w, g = f.world, f.groups
    return {
        "name": ("LPH", {"alpha"}, "omega", set()),
        "description": ("first", {"alpha"}, "fifth", set()),
        "name_exact": ("alpha", {"alpha"}, "alph", set()),
        "backend_id": ("nova-alpha", {"alpha"}, "nova-alph", set()),
        "uuid": (g.beta.uuid.hex, {"beta"}, "0" * 32, set()),
        "customer": (w.acme.uuid.hex, {"alpha", "beta"}, f.initech.uuid.hex, {"delta"}),
        "customer_uuid": (w.globex.uuid.hex, {"gamma"}, "0" * 32, set()),
        "project": (w.web.uuid.hex, {"alpha", "beta"}, w.other.uuid.hex, {"gamma"}),
        "project_uuid": (f.lab.uuid.hex, {"delta"}, "0" * 32, set()),
        "service_settings_uuid": (w.cloud.uuid.hex, {"alpha", "beta", "gamma"}, f.cloud2.uuid.hex, {"delta"}),
        "tenant_uuid": (w.other_tenant.uuid.hex, {"gamma"}, "0" * 32, set()),
        "customer_name": ("acm", {"alpha", "beta"}, "umbrella", set()),
        "customer_native_name": ("CORP", {"gamma"}, "Acme Corp", set()),
        "customer_abbreviation": ("in", {"delta"}, "XYZ", set()),
        "project_name": ("WE", {"alpha", "beta"}, "zzz", set()),
        "service_settings_name": ("SECOND", {"delta"}, "third", set()),
    }


PARAMS = [
    "name", "description", "name_exact", "backend_id", "uuid", "customer", "customer_uuid", "project",
    "project_uuid", "service_settings_uuid", "tenant_uuid", "customer_name", "customer_native_name",
    "customer_abbreviation", "project_name", "service_settings_name",
]  # fmt: skip


@pytest.mark.parametrize("param", PARAMS)
def test_filter_keeps_and_drops(f, staff, param):
    keep, kept, drop, dropped_to = cases(f)[param]
    assert staff() == ALL
    assert staff({param: keep}) == kept
    assert staff({param: drop}) == dropped_to


UUID_PARAMS = [
    "uuid",
    "customer",
    "customer_uuid",
    "project",
    "project_uuid",
    "service_settings_uuid",
    "tenant_uuid",
]


@pytest.mark.parametrize("param", UUID_PARAMS)
def test_uuid_filters_accept_the_dashed_form(f, staff, param):
    keep, kept, _, _ = cases(f)[param]
    assert staff({param: dashed(keep)}) == kept


@pytest.mark.parametrize("param", UUID_PARAMS)
def test_uuid_filters_reject_a_bad_uuid(f, staff, param):
    assert_field_error(staff.client.get(GROUPS, {param: "not-a-uuid"}), param)


def test_name_exact_is_case_sensitive_and_whole(f, staff):
    assert staff({"name_exact": "ALPHA"}) == set()
    assert staff({"name_exact": "alpha"}) == {"alpha"}


def test_backend_id_is_exact(f, staff):
    assert staff({"backend_id": "NOVA-ALPHA"}) == set()
    assert staff({"backend_id": "nova-d"}) == {"delta"}


# --- tenant: the URL as given in responses, or a bare uuid -------------------------------------------------


def test_tenant_filter_takes_the_url_from_a_response(f, staff):
    gamma = staff.client.get(f"{GROUPS}{f.groups.gamma.uuid.hex}/").json()
    assert staff({"tenant": gamma["tenant"]}) == {"gamma"}
    alpha = staff.client.get(f"{GROUPS}{f.groups.alpha.uuid.hex}/").json()
    assert staff({"tenant": alpha["tenant"]}) == {"alpha", "beta"}


@pytest.mark.parametrize("form", ["hex", "dashed"])
def test_tenant_filter_takes_a_bare_uuid(f, staff, form):
    tenant = f.zeta.uuid
    assert staff({"tenant": tenant.hex if form == "hex" else str(tenant)}) == {"delta"}


def test_tenant_filter_with_an_unknown_tenant_gives_nothing(f, staff):
    assert staff({"tenant": f"http://testserver/api/openstack-tenants/{'0' * 32}/"}) == set()


def test_tenant_filter_rejects_garbage(f, staff):
    assert_field_error(staff.client.get(GROUPS, {"tenant": "not a tenant"}), "tenant")


# --- state -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values, expected",
    [
        (["OK"], {"alpha"}),
        (["ERRED"], {"beta"}),
        (["OK", "ERRED"], {"alpha", "beta"}),
        (["Erred"], {"beta"}),
        (["erred"], {"beta"}),
        (["Creation Scheduled"], {"gamma"}),
        (["creation scheduled"], {"gamma"}),
        (["CREATION_SCHEDULED", "Updating"], {"gamma", "delta"}),
        (["ok"], {"alpha"}),
        (["DELETING"], set()),
        (["Deletion Scheduled", "CREATING"], set()),
    ],
)
def test_state_filter(f, staff, values, expected):
    assert staff({"state": values}) == expected


@pytest.mark.parametrize("value", ["BOGUS", "Erredd", "OK,ERRED"])
def test_state_filter_rejects_an_unknown_state(f, staff, value):
    assert_field_error(staff.client.get(GROUPS, {"state": ["OK", value]}), "state")


# --- can_manage ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [("true", ALL), ("True", ALL), ("false", set()), ("False", set())])
def test_can_manage_for_staff(f, staff, value, expected):
    assert staff({"can_manage": value}) == expected


@pytest.mark.parametrize("role, managed", [("manager", {"alpha", "beta"}), ("member", set())])
def test_can_manage_for_project_roles(f, api, role, managed):
    client = api(getattr(f.world.users, role))
    assert set(names(client.get(GROUPS))) == {"alpha", "beta"}
    assert set(names(client.get(GROUPS, {"can_manage": "true"}))) == managed
    assert set(names(client.get(GROUPS, {"can_manage": "false"}))) == {"alpha", "beta"} - managed


@pytest.mark.parametrize("value", ["maybe", "2", "yes please"])
def test_can_manage_rejects_a_bad_boolean(f, staff, value):
    assert_field_error(staff.client.get(GROUPS, {"can_manage": value}), "can_manage")


# --- external_ip ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["10.0.0.1", "x"])
def test_external_ip_gives_an_empty_list(f, staff, value):
    response = staff.client.get(GROUPS, {"external_ip": value})
    assert names(response) == []
    assert response["X-Result-Count"] == "0"


# --- ordering ---------------------------------------------------------------------------------------------


def test_default_ordering_is_tenant_name_then_name(f, staff, world):
    make_group(world.tenant, "aardvark")  # created last, sorts first within acme-tenant
    assert names(staff.client.get(GROUPS)) == ["aardvark", "alpha", "beta", "gamma", "delta"]


@pytest.mark.parametrize(
    "key, ascending",
    [
        ("name", ["alpha", "beta", "delta", "gamma"]),
        ("created", ["alpha", "beta", "gamma", "delta"]),
        ("modified", ["delta", "gamma", "beta", "alpha"]),
        ("state", ["gamma", "beta", "alpha", "delta"]),  # CREATION_SCHEDULED < ERRED < OK < UPDATING
    ],
)
def test_ordering_by_unique_keys(f, staff, key, ascending):
    assert names(staff.client.get(GROUPS, {"o": key})) == ascending
    assert names(staff.client.get(GROUPS, {"o": f"-{key}"})) == ascending[::-1]


@pytest.mark.parametrize(
    "key, field, ascending",
    [
        ("tenant_name", "tenant_name", ["acme-tenant", "acme-tenant", "globex-tenant", "zeta-tenant"]),
        ("project_name", "project_name", ["lab", "other", "web", "web"]),
        ("customer_name", "customer_name", ["Acme", "Acme", "Globex", "Initech"]),
    ],
)
def test_ordering_by_related_names(f, staff, key, field, ascending):
    up = staff.client.get(GROUPS, {"o": key}).json()
    down = staff.client.get(GROUPS, {"o": f"-{key}"}).json()
    assert [item[field] for item in up] == ascending
    assert [item[field] for item in down] == ascending[::-1]


def test_ordering_by_two_keys(f, staff):
    assert names(staff.client.get(GROUPS, {"o": "customer_name,-name"})) == [
        "beta",
        "alpha",
        "gamma",
        "delta",
    ]


@pytest.mark.parametrize("value", ["bogus", "-bogus", "uuid", "name,bogus"])
def test_ordering_rejects_an_unknown_field(f, staff, value):
    assert_field_error(staff.client.get(GROUPS, {"o": value}), "o")


# --- empty, unknown and invalid values -------------------------------------------------------------------


@pytest.mark.parametrize("param", [*PARAMS, "tenant", "state", "can_manage", "external_ip", "o", "page", "page_size"])
def test_empty_values_are_ignored(f, staff, param):
    assert staff({param: ""}) == ALL


def test_unknown_params_are_ignored(f, staff):
    assert staff({"colour": "blue", "field_x": "1", "ordering": "bogus"}) == ALL


@pytest.mark.parametrize(
    "param, value",
    [
        ("uuid", "xyz"),
        ("customer", "123"),
        ("tenant_uuid", "g" * 32),
        ("state", "SLEEPING"),
        ("can_manage", "perhaps"),
        ("o", "colour"),
    ],
)
def test_invalid_value_is_400_naming_the_param(f, staff, param, value):
    messages = assert_field_error(staff.client.get(GROUPS, {param: value}), param)
    assert messages[0]


def test_two_invalid_params_are_both_named(f, staff):
    response = staff.client.get(GROUPS, {"uuid": "xyz", "state": "SLEEPING"})
    assert response.status_code == 400
    assert set(response.json()) == {"uuid", "state"}


def test_filters_combine(f, staff):
    assert staff({"customer_name": "acme", "state": "ERRED"}) == {"beta"}
    assert staff({"customer_name": "acme", "state": "CREATION_SCHEDULED"}) == set()


def test_filters_never_widen_visibility(f, api):
    client = api(f.world.users.member)
    assert set(names(client.get(GROUPS, {"customer_uuid": f.world.globex.uuid.hex}))) == set()
    assert set(names(client.get(GROUPS, {"name": "gamma"}))) == set()


def routed_filtersets():
    """(list path, filter set) of every routed viewset that filters its list, as the API's filter
    backend builds it (from `filterset_class`, or from `filterset_fields`)."""
    from django.conf import settings
    from django.contrib.auth.models import AnonymousUser

    from cohort.urls import router

    backend = import_string(settings.REST_FRAMEWORK["DEFAULT_FILTER_BACKENDS"][0])()
    found = []
    for prefix, viewset, _ in router.registry:
        filterset = backend.get_filterset_class(viewset(), viewset.visible_to(user=AnonymousUser()))
        if filterset is not None:
            found.append((f"/api/{prefix}/", filterset))
    return found


def test_every_filter_set_refuses_null_characters():
    from cohort.core.filtersets import FilterSet

    found = routed_filtersets()
    assert {path for path, _ in found} >= {GROUPS, "/api/events/", "/api/openstack-tenants/", "/api/customers/"}
    assert [filterset.__name__ for _, filterset in found if not issubclass(filterset, FilterSet)] == []


@pytest.mark.parametrize("method", ["get", "head"])
def test_a_null_character_in_any_filter_of_any_list_is_a_400_naming_it(world, api, method):
    """PostgreSQL's text cannot hold U+0000 (a 500 there once, on /api/events/?event_type=); SQLite can.
    Every filter of every list, the events' count too, answers 400 on both."""
    client = api(world.users.staff)
    paths = [(path, filterset) for path, filterset in routed_filtersets()]
    paths.append(("/api/events/count/", dict(routed_filtersets())["/api/events/"]))
    refused = []
    for path, filterset in paths:
        for name in filterset.base_filters:
            for value in ("a\x00b", "\x00"):
                response = getattr(client, method)(path, {name: value})
                assert response.status_code == 400, (path, name, value, response.status_code)
                if method == "get":  # the filter's own error ("Enter a valid UUID.") where it has one
                    assert list(response.json()) == [name], (path, name)
                refused.append((path, name))
    assert len(refused) > 2 * 30  # every filter of every list, not a few
