"""Pages of the list (CONTRACT section 5): bare array, sizes, X-Result-Count, Link, HEAD, and query cost."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cohort.core.states import State
from cohort.openstack.models import Instance, ServerGroup
from tests.api.support import GROUPS, assert_error, links, names


def bulk_groups(tenant, count: int, *, members: int = 0, prefix: str = "g") -> list[ServerGroup]:
    groups = ServerGroup.objects.bulk_create(
        ServerGroup(tenant=tenant, name=f"{prefix}{i:03d}", state=State.OK, backend_id=f"nova-{prefix}{i:03d}")
        for i in range(count)
    )
    if members:
        groups = list(ServerGroup.objects.filter(tenant=tenant, name__startswith=prefix))
        Instance.objects.bulk_create(
            Instance(
                tenant=tenant,
                server_group=group,
                name=f"{group.name}-vm{j}",
                backend_id=f"{group.name}-vm{j}",
            )
            for group in groups
            for j in range(members)
        )
    return groups


@pytest.fixture
def staff(world, api):
    return api(world.users.staff)


@pytest.fixture
def twenty_five(world):
    return bulk_groups(world.tenant, 25)


def query(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def test_body_is_a_bare_array_with_default_page_size_10(staff, twenty_five):
    response = staff.get(GROUPS)
    assert response.status_code == 200
    body = response.json()
    assert isinstance(body, list)
    assert [item["name"] for item in body] == [f"g{i:03d}" for i in range(10)]
    assert response["X-Result-Count"] == "25"


@pytest.mark.parametrize("size, expected", [(1, 1), (7, 7), (25, 25), (300, 25)])
def test_page_size(staff, twenty_five, size, expected):
    response = staff.get(GROUPS, {"page_size": size})
    assert len(names(response)) == expected
    assert response["X-Result-Count"] == "25"


@pytest.mark.parametrize("size, expected", [(300, 300), (301, 300), (100000, 300)])
def test_page_size_is_clamped_to_300(world, staff, size, expected):
    bulk_groups(world.tenant, 301)
    response = staff.get(GROUPS, {"page_size": size})
    assert len(names(response)) == expected
    assert response["X-Result-Count"] == "301"
    assert query(links(response)["next"])[-1] == ("page", "2")


def test_pages_partition_the_list(staff, twenty_five):
    seen = []
    for page in (1, 2, 3):
        seen += names(staff.get(GROUPS, {"page": page}))
    assert seen == [f"g{i:03d}" for i in range(25)]


@pytest.mark.parametrize(
    "page, rels",
    [
        (1, {"first": 1, "next": 2, "last": 3}),
        (2, {"first": 1, "prev": 1, "next": 3, "last": 3}),
        (3, {"first": 1, "prev": 2, "last": 3}),
    ],
)
def test_link_header_has_first_prev_next_last_where_they_exist(staff, twenty_five, page, rels):
    response = staff.get(GROUPS, {"page": page})
    found = links(response)
    assert list(found) == list(rels)  # also the order: first, prev, next, last
    for rel, number in rels.items():
        url = found[rel]
        assert url.startswith("http://testserver/api/openstack-server-groups/?")
        assert dict(query(url))["page"] == str(number)


def test_single_page_links_first_and_last_only(staff, world):
    bulk_groups(world.tenant, 3)
    found = links(staff.get(GROUPS))
    assert list(found) == ["first", "last"]
    assert dict(query(found["last"]))["page"] == "1"


def test_empty_list_is_one_empty_page(staff, world):
    response = staff.get(GROUPS)
    assert response.json() == []
    assert response["X-Result-Count"] == "0"
    assert list(links(response)) == ["first", "last"]


def test_link_urls_keep_the_other_params(staff, twenty_five):
    response = staff.get(GROUPS, {"name": "g0", "page_size": 5, "state": ["OK", "ERRED"], "page": 2})
    assert response["X-Result-Count"] == "25"
    for rel, url in links(response).items():
        params = query(url)
        assert ("name", "g0") in params and ("page_size", "5") in params, rel
        assert [v for k, v in params if k == "state"] == ["OK", "ERRED"], rel
        assert [k for k, _ in params].count("page") == 1, rel
    assert dict(query(links(response)["next"]))["page"] == "3"


def test_following_next_walks_the_whole_list(staff, twenty_five):
    url, seen = f"{GROUPS}?page_size=4&name=g", []
    while url:
        response = staff.get(url)
        seen += names(response)
        url = links(response).get("next")
    assert seen == [f"g{i:03d}" for i in range(25)]


def test_link_urls_never_hold_a_raw_comma(staff, world):
    ServerGroup.objects.bulk_create(ServerGroup(tenant=world.tenant, name=f"a,b {i}", state=State.OK) for i in range(3))
    response = staff.get(GROUPS, {"name": "a,b", "page_size": 1, "page": 2, "o": "name,-created"})
    assert len(names(response)) == 1
    found = links(response)
    assert list(found) == ["first", "prev", "next", "last"]
    for url in found.values():
        assert "," not in url
        params = dict(query(url))
        assert params["name"] == "a,b" and params["o"] == "name,-created"
    assert "%2C" in found["next"]


@pytest.mark.parametrize("page", [4, 100])
def test_page_past_the_end_is_404_invalid_page(staff, twenty_five, page):
    assert_error(staff.get(GROUPS, {"page": page}), 404, {"detail": "Invalid page."})


@pytest.mark.parametrize("page", ["0", "-1", "abc"])
def test_page_that_is_not_a_page_is_404_invalid_page(staff, twenty_five, page):
    assert_error(staff.get(GROUPS, {"page": page}), 404, {"detail": "Invalid page."})


HUGE_PAGES = [
    "99999999999999999999",
    str(2**63 - 1),  # the largest 64-bit integer: times the page size it overflows any database
    str(2**63),
    str(2**62 // 10 + 1),  # fits a bigint, but its offset does not
    str(10**12),  # its offset fits: the database answers an empty page
    "9" * 4300,  # the longest number Python parses by default
    "9" * 4301,
    "-99999999999999999999",
]


def short(value: str) -> str:
    return value if len(value) < 30 else f"{len(value)}-digits"


@pytest.mark.parametrize("page", HUGE_PAGES, ids=short)
@pytest.mark.parametrize("method", ["get", "head"])
def test_page_past_the_end_however_large_is_404_invalid_page(staff, twenty_five, page, method):
    response = getattr(staff, method)(GROUPS, {"page": page})
    if method == "head":
        assert response.status_code == 404
    else:
        assert_error(response, 404, {"detail": "Invalid page."})


@pytest.mark.parametrize("page", HUGE_PAGES, ids=short)
@pytest.mark.parametrize("size", ["1", "300", "99999999999999999999"])
def test_huge_page_with_any_page_size_is_404_invalid_page(staff, twenty_five, page, size):
    assert_error(staff.get(GROUPS, {"page": page, "page_size": size}), 404, {"detail": "Invalid page."})


@pytest.mark.parametrize("path", ["/api/openstack-tenants/", "/api/openstack-instances/", "/api/customers/"])
@pytest.mark.parametrize("page", HUGE_PAGES, ids=short)
def test_huge_page_on_the_other_lists_is_404_invalid_page(staff, world, path, page):
    assert_error(staff.get(path, {"page": page}), 404, {"detail": "Invalid page."})


@pytest.mark.parametrize("size", ["99999999999999999999", str(2**63), "9" * 4300, "9" * 5000], ids=short)
def test_huge_page_size_is_clamped(staff, twenty_five, size):
    response = staff.get(GROUPS, {"page_size": size})
    assert len(names(response)) == (25 if len(size) <= 4300 else 10)  # unparsable: the default size
    assert response["X-Result-Count"] == "25"


def test_head_gives_count_and_links_without_body(staff, twenty_five):
    response = staff.head(GROUPS, {"page": 2})
    assert response.status_code == 200
    assert response.content == b""
    assert response["X-Result-Count"] == "25"
    assert links(response) == links(staff.get(GROUPS, {"page": 2}))


def test_head_response_carries_no_body_before_the_server_strips_it(world, twenty_five):
    """The test client drops HEAD bodies itself, so look at what the view renders."""
    from rest_framework.test import APIRequestFactory, force_authenticate

    from cohort.openstack.api.views import ServerGroupViewSet

    request = APIRequestFactory().head(GROUPS, {"page_size": 5})
    force_authenticate(request, user=world.users.staff)
    response = ServerGroupViewSet.as_view({"get": "list"})(request)
    response.render()
    assert response.status_code == 200
    assert response.content == b""
    assert response["X-Result-Count"] == "25"
    assert list(links(response)) == ["first", "next", "last"]


def test_head_honours_filters(staff, twenty_five, world):
    bulk_groups(world.tenant, 4, prefix="x")
    response = staff.head(GROUPS, {"name": "x0", "page_size": 2})
    assert response.status_code == 200
    assert response["X-Result-Count"] == "4"
    assert list(links(response)) == ["first", "next", "last"]
    assert staff.head(GROUPS, {"external_ip": "1.2.3.4"})["X-Result-Count"] == "0"


def test_head_is_scoped_to_the_caller(api, world, twenty_five):
    assert api(world.users.member).head(GROUPS)["X-Result-Count"] == "25"
    assert api(world.users.stranger).head(GROUPS)["X-Result-Count"] == "0"


def test_head_with_an_invalid_filter_is_400(staff, twenty_five):
    assert staff.head(GROUPS, {"state": "SLEEPING"}).status_code == 400


def test_head_past_the_end_is_404(staff, twenty_five):
    assert staff.head(GROUPS, {"page": 9}).status_code == 404


# --- query cost ---------------------------------------------------------------------------------------------


def count_queries(client, params) -> tuple[int, list]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(GROUPS, params)
    assert response.status_code == 200
    return len(captured), response.json()


@pytest.mark.parametrize("role", ["staff", "owner", "member"])
def test_a_page_of_300_costs_as_many_queries_as_a_page_of_1(api, world, role):
    bulk_groups(world.tenant, 300, members=2)
    client = api(getattr(world.users, role))
    client.get(GROUPS)  # settle anything done once per token

    one, one_page = count_queries(client, {"page_size": 1})
    full, full_page = count_queries(client, {"page_size": 300})

    assert len(one_page) == 1 and len(full_page) == 300
    assert all(len(item["instances"]) == 2 for item in full_page)
    assert full == one
    assert full <= 6


def test_query_count_does_not_grow_with_members(api, world, django_assert_max_num_queries):
    bulk_groups(world.tenant, 50, members=6)
    client = api(world.users.owner)
    with django_assert_max_num_queries(6):
        response = client.get(GROUPS, {"page_size": 50, "state": ["OK", "ERRED"], "o": "-name"})
    assert sum(len(item["instances"]) for item in response.json()) == 300


def test_filtering_on_placement_status_costs_no_more_queries(api, world):
    bulk_groups(world.tenant, 300, members=2)
    ServerGroup.objects.filter(name__endswith="7").update(placement_status="violated")
    client = api(world.users.member)
    client.get(GROUPS)  # settle anything done once per token

    plain, _ = count_queries(client, {"page_size": 300})
    filtered, page = count_queries(
        client, {"page_size": 300, "placement_status": ["violated", "degraded"], "field": ["name", "placement_status"]}
    )
    assert len(page) == 30 and {item["placement_status"] for item in page} == {"violated"}
    assert filtered <= plain  # (fewer: `?field=` that leaves the members out does not read them)
