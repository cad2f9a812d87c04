"""Bugs the client tests found, pinned where they are cheap to run (Django's test client).

- A `state` filter value holding a `%` was a 500: its error message was %-formatted by django-filter.
- An unsafe method on a path that reaches no DRF view (an unknown path under /api/, or /api/ itself)
  was answered by Django's CSRF check (403) instead of 404 or 405.
"""

import pytest
from rest_framework.test import APIClient

from tests.api.support import assert_error

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/openstack-server-groups/", "/api/openstack-tenants/"])
@pytest.mark.parametrize("value", ["%d", "%(x)s", "100%", "%"])
def test_a_state_with_a_percent_sign_is_400_naming_it(world, api, path, value):
    client = api(world.users.staff)
    data = assert_error(client.get(path, {"state": value}), 400)
    assert data == {"state": [f"Select a valid choice. {value} is not one of the available choices."]}
    assert client.head(path, {"state": value}).status_code == 400


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_unsafe_methods_beyond_drf_are_not_stopped_by_csrf(world, api, method):
    client = api(world.users.staff)
    client.handler.enforce_csrf_checks = True  # as for any real client without a CSRF cookie
    assert_error(getattr(client, method)("/api/nothing/", {}, format="json"), 404, {"detail": "Not found."})
    data = assert_error(getattr(client, method)("/api/", {}, format="json"), 405)
    assert data == {"detail": f'Method "{method.upper()}" not allowed.'}


def test_the_api_root_still_answers_get_and_head(world):
    assert APIClient().get("/api/").json()["openstack-server-groups"].endswith("/api/openstack-server-groups/")
    assert APIClient().head("/api/").status_code == 200
