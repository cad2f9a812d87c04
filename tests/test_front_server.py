"""What `cohort web`'s gunicorn answers before Django sees a request, and bodies cut short on the wire.

A real `cohort web` on SQLite in a home of its own, spoken to over raw sockets, so that the request
line, the headers and the body are exactly what a client sent. Every answer is JSON: gunicorn's own
refusals (a head over its limits, a malformed request line) included; a request line up to the
documented 8,190 bytes reaches the API.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess

import pytest

from tests import services

pytestmark = pytest.mark.database_free


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    home = tmp_path_factory.mktemp("front")
    env = services.cohort_env(home, COHORT_BROKER_URL="filesystem://")
    subprocess.run(services.cohort("migrate", "-v", "0"), env=env, check=True, timeout=120)
    subprocess.run(services.cohort("user", "admin", "--staff"), env=env, check=True, timeout=60)
    token = subprocess.run(
        services.cohort("token", "admin"), env=env, check=True, timeout=60, capture_output=True, text=True
    ).stdout.strip()
    process, base = services.start_web(home, env)
    yield int(base.rsplit(":", 1)[1]), token
    process.stop()


def exchange(port: int, request: bytes, *, half_close: bool = False) -> tuple[int, dict, bytes]:
    """Send `request` as it is; the status, headers and body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def get(port: int, target: str, *extra_headers: str) -> tuple[int, dict, bytes]:
    head = [f"GET {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *extra_headers]
    return exchange(port, ("\r\n".join(head) + "\r\n\r\n").encode())


def assert_json_detail(status: int, headers: dict, body: bytes, expected_status: int) -> str:
    assert status == expected_status, (status, body[:300])
    assert headers["content-type"].startswith("application/json"), (headers, body[:300])
    data = json.loads(body)
    assert list(data) == ["detail"] and isinstance(data["detail"], str), data
    return data["detail"]


def test_a_request_line_up_to_8190_bytes_reaches_the_api(web):
    port, token = web
    target = "/api/openstack-server-groups/?name=" + "n" * (8190 - len("GET  HTTP/1.1") - 36)
    line = f"GET {target} HTTP/1.1"
    assert 4094 < len(line) <= 8190  # over gunicorn's default limit, within the raised one
    status, headers, body = get(port, target, f"Authorization: Token {token}")
    assert status == 200 and json.loads(body) == [], (status, body[:300])


def test_a_longer_request_line_is_a_json_400(web):
    port, token = web
    detail = assert_json_detail(*get(port, "/api/openstack-server-groups/?name=" + "n" * 9000), 400)
    assert "Request Line is too large" in detail


def test_a_header_over_its_limit_is_a_json_431(web):
    port, _ = web
    detail = assert_json_detail(*get(port, "/api/", "X-Huge: " + "h" * 9000), 431)
    assert "Request Header Fields Too Large" in detail


def test_too_many_headers_are_a_json_431(web):
    port, _ = web
    headers = [f"X-Many-{i}: {i}" for i in range(120)]
    assert_json_detail(*get(port, "/api/", *headers), 431)


def test_a_malformed_request_line_is_a_json_400(web):
    port, _ = web
    assert_json_detail(*exchange(port, b"GARBAGE\r\n\r\n"), 400)


def test_a_body_cut_short_on_the_wire_is_a_json_400(web):
    """The client declares 200 bytes, sends a whole JSON object of fewer, and stops sending."""
    port, token = web
    body = b'{"name": "cut-short", "policy": "anti-affinity"}'
    head = (
        "POST /api/openstack-server-groups/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Authorization: Token {token}\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n"
    )
    detail = assert_json_detail(*exchange(port, head.encode() + body, half_close=True), 400)
    assert detail == f"The request body is incomplete: {len(body)} of the 200 bytes of its Content-Length."
