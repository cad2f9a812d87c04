"""What clients need of the live server beyond the happy path, over real HTTP (gunicorn).

UUIDs in any of their spellings, the token keyword in any case, no redirect on a documented path,
a JSON body on every error under /api/ (also for paths and methods that reach no DRF view, where
Django's own CSRF check used to answer first), and the API docs served with no asset from elsewhere.
"""

from __future__ import annotations

import re

import httpx
import pytest

from tests.clients.conftest import token_of
from tests.conftest import make_group

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


@pytest.fixture
def http(cohort, token):
    with httpx.Client(base_url=cohort.url, headers={"Authorization": f"Token {token}"}) as client:
        yield client


def spellings(value) -> list[str]:
    dashed = str(value)
    return [value.hex, dashed, value.hex.upper(), dashed.upper()]


def assert_json_error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, (response.request.method, response.request.url, response.text[:300])
    assert response.headers["content-type"].startswith("application/json"), response.headers["content-type"]
    if response.request.method == "HEAD":
        return {}
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("detail"), str), body
    return body


@pytest.mark.parametrize("keyword", ["Token", "token", "TOKEN"])
def test_the_token_keyword_in_any_case(cohort, world, keyword):
    headers = {"Authorization": f"{keyword} {token_of(world.users.staff)}"}
    response = httpx.get(f"{cohort.url}/api/openstack-server-groups/", headers=headers)
    assert response.status_code == 200 and response.json() == []


def test_every_spelling_of_a_uuid_in_paths_and_filters(http, world):
    group = make_group(world.tenant, "g")
    make_group(world.other_tenant, "other")
    for key in spellings(group.uuid):
        assert http.get(f"/api/openstack-server-groups/{key}/").json()["uuid"] == group.uuid.hex, key
        assert http.patch(f"/api/openstack-server-groups/{key}/", json={"description": key}).status_code == 200, key
        assert [g["name"] for g in http.get("/api/openstack-server-groups/", params={"uuid": key}).json()] == ["g"]
    for key in spellings(world.tenant.uuid):
        assert http.get(f"/api/openstack-tenants/{key}/").json()["uuid"] == world.tenant.uuid.hex, key
        found = http.get("/api/openstack-server-groups/", params={"tenant_uuid": key}).json()
        assert "g" in [g["name"] for g in found] and "other" not in [g["name"] for g in found], key
        created = http.post(f"/api/openstack-tenants/{key}/create_server_group/", json={"name": f"n-{key}"})
        assert created.status_code == 201 and created.json()["tenant_uuid"] == world.tenant.uuid.hex, key


def documented_paths(world, group) -> list[tuple[str, str]]:
    detail = f"/api/openstack-server-groups/{group.uuid.hex}/"
    tenant = f"/api/openstack-tenants/{world.tenant.uuid.hex}/"
    return [
        ("GET", "/api/openstack-server-groups/"),
        ("HEAD", "/api/openstack-server-groups/"),
        ("GET", detail),
        ("PATCH", detail),
        ("POST", detail + "pull/"),
        ("POST", detail + "set_ok/"),
        ("POST", tenant + "pull_server_groups/"),
        ("GET", tenant),
        ("GET", "/api/"),
        ("GET", "/api/schema/"),
        ("GET", "/api/docs/"),
        ("GET", "/api/redoc/"),
        ("POST", "/api-auth/password/"),
    ]


def test_no_redirect_on_a_documented_path_nor_on_one_without_its_slash(http, world):
    group = make_group(world.tenant, "g")
    for method, path in documented_paths(world, group):
        response = http.request(method, path, json={} if method in ("POST", "PATCH") else None)
        assert response.status_code < 300 or response.status_code in (400, 409), (method, path, response.status_code)
        assert_json_error(http.request(method, path.rstrip("/")), 404)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("authenticated", [True, False])
def test_unknown_paths_under_api_are_404_json_for_every_method(cohort, token, method, authenticated):
    headers = {"Authorization": f"Token {token}"} if authenticated else {}
    for path in ("/api/nothing/", "/api/openstack-server-groups/x/y/", "/api/schema/extra/", "/api/docs/x/"):
        response = httpx.request(method, f"{cohort.url}{path}", headers=headers, json={"name": "x"})
        assert_json_error(response, 404)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_a_wrong_method_is_405_json_everywhere(http, world, method):
    paths = ["/api/", "/api/schema/", "/api/docs/", "/api/redoc/", "/api/openstack-tenants/"]
    if method != "POST":
        paths.append("/api/openstack-server-groups/")
    for path in paths:
        assert_json_error(http.request(method, path, json={}), 405)


def test_the_schema_and_the_docs_need_no_token(cohort):
    for path in ("/api/schema/", "/api/docs/", "/api/redoc/"):
        for headers in ({}, {"Authorization": "Token " + "0" * 40}):
            assert httpx.get(f"{cohort.url}{path}", headers=headers).status_code == 200, (path, headers)


@pytest.mark.parametrize("page", ["/api/docs/", "/api/redoc/"])
def test_the_docs_load_every_asset_from_cohort_itself(cohort, page):
    html = httpx.get(f"{cohort.url}{page}").text
    assert "://" not in html, "an absolute URL: the page would fetch from elsewhere"
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(asset.endswith(".js") for asset in assets), assets
    for asset in assets:
        response = httpx.get(f"{cohort.url}{asset}")
        assert response.status_code == 200 and response.content, asset
    assert '"/api/schema/"' in html
