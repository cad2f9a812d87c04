"""The list at scale (issue 10): the maintained per-tenant counts, the page read at the offsets they give,
and (PostgreSQL) the shape of the plans at 100,000 groups.

Correctness runs on both databases: every page of every role, read page by page, is exactly the
reference's order (tenant name, name, pk) of what the role sees, with the exact total, whatever the
page size, with tenants sharing a name, empty tenants, and pages that straddle tenants.
"""

from __future__ import annotations

import math
import re

import pytest
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext

from cohort.openstack.models import ServerGroup, ServerGroupTally, Tenant
from cohort.openstack.selectors import server_groups_visible_to
from tests.api.support import GROUPS
from tests.conftest import make_group, make_tenant


def tallies() -> dict[int, int]:
    return {t.tenant_id: t.groups for t in ServerGroupTally.objects.all() if t.groups}


def actual() -> dict[int, int]:
    counted = ServerGroup.objects.values("tenant_id").annotate(n=Count("pk")).values_list("tenant_id", "n")
    return dict(counted)


def bulk(tenant, count: int, prefix: str) -> None:
    ServerGroup.objects.bulk_create(
        ServerGroup(tenant=tenant, name=f"{prefix}{i:03d}", state="OK", backend_id=f"{prefix}{i}") for i in range(count)
    )


def test_the_tally_follows_every_write(world):
    second = make_tenant("second", world.web, world.cloud)
    make_group(world.tenant, "one")
    bulk(world.tenant, 7, "a")
    bulk(second, 3, "b")
    bulk(world.other_tenant, 2, "c")
    assert tallies() == actual() == {world.tenant.pk: 8, second.pk: 3, world.other_tenant.pk: 2}

    ServerGroup.objects.filter(name__in=["a000", "a001"]).update(tenant=second)  # moved
    ServerGroup.objects.filter(name="b000").update(description="not a move")
    assert tallies() == actual() == {world.tenant.pk: 6, second.pk: 5, world.other_tenant.pk: 2}

    ServerGroup.objects.get(name="one").delete()
    ServerGroup.objects.filter(tenant=second).delete()
    assert tallies() == actual() == {world.tenant.pk: 5, world.other_tenant.pk: 2}

    second.delete()  # its (empty) tally goes with it
    assert not ServerGroupTally.objects.filter(tenant_id=second.pk).exists()


@pytest.fixture
def crowd(world):
    """Groups over tenants of both customers: two tenants of the same name (their groups interleave in
    the order), an empty tenant, counts that make pages straddle tenants."""
    tenants = [
        (make_tenant("same", world.web, world.cloud, backend_id="same-1"), 7),
        (make_tenant("same", world.web, world.cloud, backend_id="same-2"), 6),
        (make_tenant("empty", world.web, world.cloud), 0),
        (world.tenant, 11),
        (make_tenant("b-first", world.web, world.cloud), 5),
        (world.other_tenant, 9),
    ]
    for k, (tenant, count) in enumerate(tenants):
        # the same names in the same-named tenants, so the pk decides between them
        bulk(tenant, count, "g" if tenant.name == "same" else f"t{k}-")
    return world


def read_all(client, params: dict, size: int) -> tuple[list[str], set[str]]:
    first = client.get(GROUPS, {**params, "page_size": size})
    assert first.status_code == 200, first.content[:300]
    total = int(first["X-Result-Count"])
    uuids, counts = [], {first["X-Result-Count"]}
    for page in range(1, max(1, math.ceil(total / size)) + 1):
        response = client.get(GROUPS, {**params, "page_size": size, "page": page})
        assert response.status_code == 200, (page, response.content[:300])
        counts.add(response["X-Result-Count"])
        uuids += [item["uuid"] for item in response.json()]
    past = client.get(GROUPS, {**params, "page_size": size, "page": max(1, math.ceil(total / size)) + 1})
    assert past.status_code == 404
    return uuids, counts


def reference(user, order=("tenant__name", "name", "pk"), **filters) -> list[str]:
    groups = server_groups_visible_to(user=user).filter(**filters).order_by(*order)
    return [g.uuid.hex for g in groups]


@pytest.mark.parametrize("role", ["staff", "owner", "member", "stranger"])
@pytest.mark.parametrize("size", [1, 3, 7, 50])
def test_every_page_is_in_the_reference_order_with_the_exact_total(api, crowd, role, size):
    user = getattr(crowd.users, role)
    client = api(user)
    expected = reference(user)
    assert len(expected) == {"staff": 38, "owner": 29, "member": 29, "stranger": 0}[role]
    uuids, counts = read_all(client, {}, size)
    assert uuids == expected and counts == {str(len(expected))}


@pytest.mark.parametrize("role", ["staff", "owner"])
@pytest.mark.parametrize(
    ("params", "order", "filters"),
    [
        ({"o": "-created"}, ("-created", "pk"), {}),
        ({"o": "name"}, ("name", "pk"), {}),
        ({"o": "-tenant_name"}, ("-tenant__name", "pk"), {}),
        ({"tenant_uuid": "same-2"}, ("tenant__name", "name", "pk"), {"tenant__backend_id": "same-2"}),
        ({"project_uuid": "web", "o": "-name"}, ("-name", "pk"), {"tenant__project__name": "web"}),
        ({"name": "G00"}, ("tenant__name", "name", "pk"), {"name__icontains": "g00"}),
        ({"state": "ERRED"}, ("tenant__name", "name", "pk"), {"state": "ERRED"}),
    ],
)
def test_filters_and_orderings_page_in_their_order_with_the_exact_total(api, crowd, role, params, order, filters):
    user = getattr(crowd.users, role)
    params = dict(params)
    if "tenant_uuid" in params:
        params["tenant_uuid"] = Tenant.objects.get(backend_id=params["tenant_uuid"]).uuid.hex
    if "project_uuid" in params:
        params["project_uuid"] = crowd.web.uuid.hex
    expected = reference(user, order, **filters)
    for size in (2, 5):
        uuids, counts = read_all(api(user), params, size)
        assert uuids == expected and counts == {str(len(expected))}


def test_a_renamed_tenant_moves_its_groups_in_the_order_at_once(api, crowd):
    client = api(crowd.users.staff)
    Tenant.objects.filter(name="b-first").update(name="zz-last")
    uuids, _ = read_all(client, {}, 4)
    assert uuids == reference(crowd.users.staff)
    assert client.get(GROUPS, {"page_size": 5, "page": 8}).json()[-1]["tenant_name"] == "zz-last"


def test_head_gives_the_maintained_total(api, crowd):
    response = api(crowd.users.owner).head(GROUPS, {"tenant_uuid": crowd.tenant.uuid.hex})
    assert response.status_code == 200 and response["X-Result-Count"] == "11"


@pytest.mark.parametrize("params", [{}, {"page": 3, "page_size": 5}, {"o": "-created", "page": 2}])
def test_a_page_costs_the_same_queries_whatever_the_tenants(api, crowd, params):
    client = api(crowd.users.owner)
    client.get(GROUPS)  # settle anything done once per token
    with CaptureQueriesContext(connection) as few:
        assert client.get(GROUPS, params).status_code == 200
    for k in range(5):
        bulk(make_tenant(f"more-{k}", crowd.web, crowd.cloud), 4, f"m{k}-")
    with CaptureQueriesContext(connection) as many:
        assert client.get(GROUPS, params).status_code == 200
    assert len(few) == len(many) <= 6


# --- the plans at 100,000 groups (PostgreSQL) ----------------------------------------------------------------

GROUPS_AT_SCALE = 100_000
SEQ_SCAN = re.compile(r"Seq Scan on openstack_servergroup\b")


@pytest.fixture
def hundred_thousand(crowd):
    """100,000 groups over ten more tenants of the owner's customer, written in one INSERT ... SELECT."""
    tenants = [make_tenant(f"scale-{k}", crowd.web, crowd.cloud) for k in range(10)]
    template = ServerGroup(tenant=tenants[0], name="x", state="OK", policy="anti-affinity")
    fields = [f for f in ServerGroup._meta.concrete_fields if not f.primary_key]
    varying = {
        "uuid": "gen_random_uuid()",
        "tenant_id": f"(ARRAY{[t.pk for t in tenants]})[i %% 10 + 1]",
        "name": "'s-' || lpad(i::text, 7, '0')",
        "backend_id": "'nova-s-' || i",
        "created": "now() - i * interval '1 second'",
        "modified": "now()",
    }
    values = [varying.get(f.column, "%s") for f in fields]
    params = [f.get_db_prep_save(getattr(template, f.attname), connection) for f in fields if f.column not in varying]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {ServerGroup._meta.db_table} ({', '.join(f.column for f in fields)}) "
            f"SELECT {', '.join(values)} FROM generate_series(1, {GROUPS_AT_SCALE}) AS i",
            params,
        )
        cursor.execute(f"ANALYZE {ServerGroup._meta.db_table}")
        cursor.execute(f"ANALYZE {Tenant._meta.db_table}")
        cursor.execute(f"ANALYZE {ServerGroupTally._meta.db_table}")
    return crowd


def plans(client, params) -> tuple[object, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(GROUPS, params)
    assert response.status_code == 200, response.content[:300]
    found = []
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            if "openstack_servergroup" in query["sql"] and query["sql"].lstrip().startswith("SELECT"):
                cursor.execute(f"EXPLAIN {query['sql']}")
                found.append("\n".join(row[0] for row in cursor.fetchall()))
    return response, found


PAGES = [{}, {"page": 3, "page_size": 50}, {"page": "last", "page_size": 50}, {"o": "-created"}, {"state": "ERRED"}]


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="plans are PostgreSQL's")
def test_at_100000_groups_no_page_reads_the_whole_group_table(api, hundred_thousand):
    """Each role, each page of the issue's table: no sequential scan of the group table in any query
    (EXPLAIN of each query the request ran), the exact total, and the last page the reference's last
    groups; the `name` substring goes through the trigram index. One fixture for all (100,000 rows)."""
    for role in ("staff", "owner", "member"):
        user = getattr(hundred_thousand.users, role)
        client = api(user)
        total = GROUPS_AT_SCALE + (38 if role == "staff" else 29)
        for params in PAGES:
            if params.get("page") == "last":
                params = {**params, "page": math.ceil(total / 50)}
            response, found = plans(client, params)
            assert response["X-Result-Count"] == ("0" if "state" in params else str(total)), (role, params)
            assert found, "no query read the group table"
            for plan in found:
                assert not SEQ_SCAN.search(plan), (role, params, plan)
            if params.get("page") == math.ceil(total / 50):
                last = [item["uuid"] for item in response.json()]
                assert last == reference(user)[-len(last) :] and len(last) == total - 50 * (params["page"] - 1)

    response, found = plans(api(hundred_thousand.users.owner), {"name": "s-0004242"})
    assert response["X-Result-Count"] == "1" and response.json()[0]["name"] == "s-0004242"
    assert found and not any(SEQ_SCAN.search(plan) for plan in found), found
    assert any("server_group_name_trigram" in plan for plan in found), found
