"""HTTP in front of the lab's Nova: tenant tokens, one request at a time, a loopback socket.

Nova's harness builds each request's context from `X-Auth-User`, `X-Auth-Project-Id` and `X-Roles`
(it stubs out Keystone). `tenant_auth` derives those from the token a client sends, `user:project`
(as `X-Auth-Token`, which openstacksdk's `admin_token` plugin sends, or as `Authorization: Bearer`),
so every project named in a token is a Nova project of its own. The user `admin` gets the admin role,
as in the harness. Requests are served one at a time: the harness keeps its databases in in-memory
SQLite on shared connections, and a boot runs to completion inside its request anyway.
"""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Callable, Iterable
from wsgiref import simple_server

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]

UNAUTHENTICATED_PATHS = frozenset({"", "/", "/v2", "/v2.1"})  # Nova's version documents
MEMBER_ROLES = "reader,member"
ADMIN_ROLES = "reader,member,admin"


def parse_token(token: str) -> tuple[str, str] | None:
    """`user:project` -> (user, project); None for anything else."""
    user, sep, project = token.strip().partition(":")
    if not sep or not user or not project or ":" in project:
        return None
    return user, project


def _token(environ: dict) -> str:
    bearer = environ.get("HTTP_AUTHORIZATION", "")
    if bearer.lower().startswith("bearer "):
        return bearer[len("bearer ") :]
    return environ.get("HTTP_X_AUTH_TOKEN", "")


def _unauthorized(start_response: Callable) -> list[bytes]:
    message = "Send X-Auth-Token (or Authorization: Bearer) as user:project, e.g. demo:demo-project."
    body = json.dumps({"unauthorized": {"code": 401, "message": message}}).encode()
    start_response("401 Unauthorized", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def tenant_auth(app: WSGIApp) -> WSGIApp:
    """Wrap Nova's app: map the token to the harness's identity headers and serialise requests."""
    lock = threading.Lock()

    def wrapped(environ: dict, start_response: Callable) -> Iterable[bytes]:
        identity = parse_token(_token(environ))
        if identity is None and environ.get("PATH_INFO", "").rstrip("/") not in UNAUTHENTICATED_PATHS:
            return _unauthorized(start_response)
        if identity is not None:
            user, project = identity
            environ["HTTP_X_AUTH_USER"] = user
            environ["HTTP_X_AUTH_PROJECT_ID"] = project
            environ["HTTP_X_ROLES"] = ADMIN_ROLES if user == "admin" else MEMBER_ROLES
        with lock:
            return list(app(environ, start_response))

    return wrapped


class _QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        """Nova logs every request itself; the access log would only repeat it on stderr."""


class _ThreadingServer(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


def make_server(app: WSGIApp, port: int) -> simple_server.WSGIServer:
    """A threaded stdlib WSGI server on 127.0.0.1 (port 0 picks a free one)."""
    return simple_server.make_server("127.0.0.1", port, app, server_class=_ThreadingServer, handler_class=_QuietHandler)
