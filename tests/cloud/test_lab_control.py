"""The lab's control endpoint, as a WSGI application in front of a stand-in for Nova: only the
holder of the secret may add a host, every refusal is JSON that says why, and everything outside
`/cohort-lab/` is Nova's."""

from __future__ import annotations

import io
import json

import pytest

from cohort_lab import control

pytestmark = pytest.mark.database_free

SECRET = "s3cret"


def call(app, method: str, path: str, body: object = None, secret: str | None = SECRET) -> tuple[int, dict]:
    data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "CONTENT_LENGTH": str(len(data)),
        "wsgi.input": io.BytesIO(data),
    }
    if secret is not None:
        environ["HTTP_X_COHORT_LAB_SECRET"] = secret
    answered = {}

    def start_response(status, headers):
        answered["status"] = int(status.split()[0])
        answered["type"] = dict(headers)["Content-Type"]

    reply = b"".join(app(environ, start_response))
    assert answered["type"] == "application/json"
    return answered["status"], json.loads(reply)


@pytest.fixture
def app():
    hosts = ["host1", "host2", "host3"]

    def nova(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"nova": environ["PATH_INFO"]}).encode()]

    def add_host(name):
        if name in hosts:
            raise ValueError(name)
        hosts.append(name)
        return list(hosts)

    return control.routed(nova, SECRET, add_host)


def test_the_secret_holder_adds_a_host(app):
    assert call(app, "POST", "/cohort-lab/hosts", {"name": "host4"}) == (
        201,
        {"name": "host4", "hosts": ["host1", "host2", "host3", "host4"]},
    )
    assert call(app, "POST", "/cohort-lab/hosts", {"name": "host4"}) == (
        409,
        {"error": "the lab has a compute host host4 already"},
    )


@pytest.mark.parametrize("secret", [None, "", "wrong"])
def test_without_the_secret_nothing_happens(app, secret):
    status, body = call(app, "POST", "/cohort-lab/hosts", {"name": "host4"}, secret=secret)

    assert (status, body["error"]) == (403, "the lab's control secret (header X-Cohort-Lab-Secret) is missing or wrong")
    assert call(app, "POST", "/cohort-lab/hosts", {"name": "host4"})[0] == 201  # it was not added before


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        ("GET", "/cohort-lab/hosts", None, 405, "only POST is allowed here"),
        ("POST", "/cohort-lab/other", {"name": "x"}, 404, "no such lab control path: /cohort-lab/other"),
        ("POST", "/cohort-lab/hosts", None, 400, 'expected a JSON body {"name": "<host name>"}'),
        ("POST", "/cohort-lab/hosts", b"{not json", 400, 'expected a JSON body {"name": "<host name>"}'),
        ("POST", "/cohort-lab/hosts", {"name": 4}, 400, 'expected a JSON body {"name": "<host name>"}'),
        ("POST", "/cohort-lab/hosts", {"name": "a b"}, 400, "'a b' is not a host name Nova takes"),
        ("POST", "/cohort-lab/hosts", {"name": "x" * 64}, 400, "is not a host name Nova takes"),
    ],
)
def test_mistakes_are_refused_in_words(app, method, path, body, status, error):
    answered, reply = call(app, method, path, body)

    assert answered == status
    assert reply["error"].startswith(error) or error in reply["error"]


def test_everything_else_is_novas(app):
    assert call(app, "GET", "/v2.1/servers", secret=None) == (200, {"nova": "/v2.1/servers"})
