"""gunicorn's configuration for `cohort web` and `cohort serve` (`--config python:cohort.gunicorn_config`).

Limits of a request's head, which gunicorn checks before Django sees the request: a request line
(method, path and query string) of up to 8,190 bytes, gunicorn's largest (its default, 4,094, refused
a list filtered by a long `name=`); up to 100 header fields of up to 8,190 bytes each (gunicorn's
defaults). The body's limit is Cohort's own (`COHORT_MAX_BODY_BYTES`, `cohort.core.middleware`).

What gunicorn answers by itself (a head over those limits, a malformed request) it writes as an HTML
page, and it has no setting for that: its workers call `gunicorn.util.write_error`. That function is
replaced here, in the master before it forks its workers, by one that writes the API's error shape,
`{"detail": "<reason>: <what gunicorn found>"}` as JSON, with gunicorn's own status (400, 431 for
headers). Replacing a library's function is a last resort; a worker class of our own would have to
copy gunicorn's whole mapping of errors to statuses instead, which is more to keep in step.
"""

import json

from gunicorn import util

from cohort.metrics.gunicorn_hooks import child_exit  # noqa: F401  (a hook gunicorn reads from here)

limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's `write_error`, answering in JSON."""
    detail = f"{reason}: {mesg}" if mesg else reason
    body = json.dumps({"detail": detail}).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


util.write_error = write_json_error
