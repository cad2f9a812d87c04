"""A cloud that hangs: an endpoint on 127.0.0.1 that accepts every connection and never answers, as a
Keystone (or Nova) whose host is wedged does. Every request to it ends in the client's own timeout."""

from __future__ import annotations

import contextlib
import socket
import threading


class Silent:
    """Accepts connections on a free port of 127.0.0.1 and holds them, unread, until `close()`."""

    def __init__(self) -> None:
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self.port = self._listener.getsockname()[1]
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, name="silent-cloud", daemon=True).start()

    @property
    def auth_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v3"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return  # closed
            self._held.append(connection)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for connection in self._held:
            connection.close()
        self._held.clear()
