"""Plain helpers of the API contract tests: paths, response checkers, the Link header parser."""

from __future__ import annotations

import re

GROUPS = "/api/openstack-server-groups/"
TENANTS = "/api/openstack-tenants/"

UUID_HEX = re.compile(r"^[0-9a-f]{32}$")
LINK = re.compile(r'<([^>]*)>; rel="(\w+)"')


def group_path(group, suffix: str = "") -> str:
    return f"{GROUPS}{group.uuid.hex}/{suffix}"


def tenant_path(tenant, suffix: str = "") -> str:
    return f"{TENANTS}{tenant.uuid.hex}/{suffix}"


def tenant_url(tenant) -> str:
    """The tenant's hyperlink exactly as responses give it."""
    return f"http://testserver{tenant_path(tenant)}"


def assert_error(response, status: int, body: dict | None = None) -> dict:
    """An error answer: the status, a JSON body (never HTML, never a 500) and, if given, that exact body."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    data = response.json()
    assert isinstance(data, dict), data
    if body is not None:
        assert data == body
    return data


def assert_field_error(response, field: str) -> list[str]:
    """A 400 `{"<field>": ["<message>", ...]}` naming exactly that field."""
    data = assert_error(response, 400)
    assert list(data) == [field], data
    messages = data[field]
    assert isinstance(messages, list) and messages and all(isinstance(m, str) and m for m in messages), data
    return messages


def names(response) -> list[str]:
    assert response.status_code == 200, (response.status_code, response.content[:500])
    data = response.json()
    assert isinstance(data, list), data
    return [item["name"] for item in data]


def links(response) -> dict[str, str]:
    """The `Link` header as {rel: url}; a raw comma in a URL would break this parse (as it breaks clients)."""
    header = response["Link"]
    found = LINK.findall(header)
    assert ", ".join(f'<{url}>; rel="{rel}"' for url, rel in found) == header, header
    return {rel: url for url, rel in found}
