"""The lab's control endpoint: what an operator does to the cloud's hardware, asked of a running lab.

Adding a compute host means starting a nova-compute service inside the lab's Nova process, which no
OpenStack API can do; so that process answers `POST /cohort-lab/hosts` (body `{"name": "host4"}`)
itself, on Nova's own port, in front of Nova's WSGI application. Only a caller holding the lab's
control secret may (header `X-Cohort-Lab-Secret`; the lab makes a new random secret at every start
and writes it into `lab.json`, readable by its owner only), so the endpoint is no wider open than
the lab admin's password beside it. Answers are JSON: 201 `{"name", "hosts"}`, or
`{"error": "..."}` with 400 (a name Nova would not take), 403 (no or wrong secret), 404 (another
path under `/cohort-lab/`), 405, or 409 (the lab has that host already). Disabling and enabling a
host need none of this: that is Nova's own `os-services` API (`cohort_lab.client.set_host_enabled`).

`add_host` (the client side) reads `lab.json` from the lab's state directory and calls the endpoint;
it raises `LabControlError` with a sentence a person can act on.
"""

from __future__ import annotations

import hmac
import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path

PREFIX = "/cohort-lab/"
HOSTS_PATH = "/cohort-lab/hosts"
SECRET_HEADER = "X-Cohort-Lab-Secret"
SECRET_KEY = "control_secret"  # its key in lab.json
# A host name as Nova and DNS take one: letters, digits, dots, dashes and underscores, up to 63.
HOST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
MAX_BODY = 4096

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


class LabControlError(RuntimeError):
    """The running lab could not be reached, or refused what was asked."""


def valid_host_name(name: str) -> bool:
    return HOST_NAME.fullmatch(name) is not None


def routed(app: WSGIApp, secret: str, add_host: Callable[[str], list[str]]) -> WSGIApp:
    """`app` (Nova's API), with the control endpoint answered first. `add_host(name)` starts the
    host and returns the lab's hosts; it raises `ValueError` when the lab has that host."""

    def control(environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(PREFIX):
            return app(environ, start_response)
        if not hmac.compare_digest(environ.get("HTTP_X_COHORT_LAB_SECRET", "").encode(), secret.encode()):
            refused = f"the lab's control secret (header {SECRET_HEADER}) is missing or wrong"
            return _answer(start_response, 403, {"error": refused})
        if path.rstrip("/") != HOSTS_PATH:
            return _answer(start_response, 404, {"error": f"no such lab control path: {path}"})
        if environ.get("REQUEST_METHOD") != "POST":
            return _answer(start_response, 405, {"error": "only POST is allowed here"})
        name = _name_from(environ)
        if name is None:
            return _answer(start_response, 400, {"error": 'expected a JSON body {"name": "<host name>"}'})
        if not valid_host_name(name):
            refused = f"{name!r} is not a host name Nova takes: {HOST_NAME.pattern}"
            return _answer(start_response, 400, {"error": refused})
        try:
            hosts = add_host(name)
        except ValueError:
            return _answer(start_response, 409, {"error": f"the lab has a compute host {name} already"})
        return _answer(start_response, 201, {"name": name, "hosts": hosts})

    return control


def _name_from(environ: dict) -> str | None:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if not 0 < length <= MAX_BODY:
        return None
    try:
        body = json.loads(environ["wsgi.input"].read(length))
    except ValueError:
        return None
    name = body.get("name") if isinstance(body, dict) else None
    return name if isinstance(name, str) else None


def _answer(start_response: Callable, status: int, body: dict) -> list[bytes]:
    reasons = {201: "Created", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
               409: "Conflict"}  # fmt: skip
    data = json.dumps(body).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    start_response(f"{status} {reasons[status]}", headers)
    return [data]


def read_lab_info(state_dir: str | Path) -> dict:
    """What the running lab wrote into `lab.json` in `state_dir`; `LabControlError` when none runs."""
    ready = Path(state_dir) / "lab.json"
    try:
        return json.loads(ready.read_text())
    except (OSError, ValueError):
        missing = f"no lab is running at {state_dir} ({ready} is missing): start `cohort serve` first"
        raise LabControlError(missing) from None


def add_host(state_dir: str | Path, name: str, timeout: float = 60.0) -> list[str]:
    """Ask the lab running at `state_dir` to start compute host `name`; the lab's hosts after."""
    info = read_lab_info(state_dir)
    if SECRET_KEY not in info:
        raise LabControlError(f"the lab at {state_dir} has no control endpoint (it predates it): restart it")
    base = info["endpoint"].rsplit("/v2.1", 1)[0]
    request = urllib.request.Request(
        base + HOSTS_PATH,
        data=json.dumps({"name": name}).encode(),
        headers={"Content-Type": "application/json", SECRET_HEADER: info[SECRET_KEY]},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - the lab's own loopback URL
            return json.loads(response.read())["hosts"]
    except urllib.error.HTTPError as error:
        raise LabControlError(_error_of(error)) from None
    except (urllib.error.URLError, OSError) as error:
        raise LabControlError(f"no lab answers at {base} ({error}): is `cohort serve` running?") from None


def _error_of(error: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(error.read())["error"])
    except (ValueError, KeyError, TypeError):
        return f"the lab answered {error.code} {error.reason}"
