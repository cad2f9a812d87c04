"""HTTP for the lab's services: one request at a time, on a loopback socket bound in advance.

Both the lab's Nova and its Keystone are served by the standard library's threaded WSGI server on
127.0.0.1. Requests to each are serialised: Nova's harness shares its SQLite connections between
threads, a boot runs to completion inside its request anyway, and Keystone's SQLite file is happiest
with one writer. Authentication is not done here: Nova's own paste pipeline validates every token
against the lab's Keystone with keystonemiddleware's `auth_token`, as in a real deployment.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Callable, Iterable
from wsgiref import simple_server

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


def serialised(app: WSGIApp) -> WSGIApp:
    """`app`, answering one request at a time (the whole body is produced under the lock)."""
    lock = threading.Lock()

    def wrapped(environ: dict, start_response: Callable) -> Iterable[bytes]:
        with lock:
            return list(app(environ, start_response))

    return wrapped


def listen(port: int = 0) -> socket.socket:
    """A listening TCP socket on 127.0.0.1 (port 0: a free one), inheritable by a child process."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(socketserver.TCPServer.request_queue_size)
    listener.set_inheritable(True)
    return listener


class _QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        """The services log every request themselves; the access log would only repeat it on stderr."""


class _ThreadingServer(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


def serve_on(app: WSGIApp, listener: socket.socket) -> simple_server.WSGIServer:
    """A threaded stdlib WSGI server answering on `listener` (already bound and listening)."""
    server = _ThreadingServer(listener.getsockname(), _QuietHandler, bind_and_activate=False)
    server.socket.close()
    server.socket = listener
    server.server_address = listener.getsockname()
    server.server_name, server.server_port = "127.0.0.1", listener.getsockname()[1]
    server.setup_environ()
    server.set_app(app)
    return server
