"""The seed page's own examples, run against a live Cohort.

Every HTTPie command and every Python example is read out of the seed document (not copied by hand),
with the example base URL, token and uuid replaced by real ones, and run: the HTTPie commands by the
`http` program of this environment, the Python examples with `exec`. Each must get the status code
the page documents for its operation.

The page's Unlink and Delete examples call `.sync()`, which waldur-api-client (8.0.2 and 8.1.3 alike)
does not generate for an operation without a response body (only `.sync_detailed()`): those two are
shown to fail before sending anything, then run with `.sync_detailed()`.

The caller is an admin with a single tenant in state OK (as `./dev serve` sets up), so the page's
create, which names no tenant, has one to go to. waldur-api-client 8.1.3 no longer ships the update
and partial-update functions (8.0.2 did) that the page's Update and Partial Update examples import;
for those two, and only when the installed client lacks them, stand-ins that send what 8.0.2 sent (the
request model's `to_dict()` as JSON, by PUT or PATCH, parsing a 200 into `OpenStackServerGroup`) are
put where the imports look.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import re
import subprocess
import sys
import textwrap
import types
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.clients.conftest import token_of
from tests.workers import wait_for

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]

SEED = Path(__file__).resolve().parents[2].parent / "shared" / "seed" / "openstack-server-groups.md"
EXAMPLE_URL = "https://api.example.com"
EXAMPLE_TOKEN = "YOUR_API_TOKEN"
EXAMPLE_UUID = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
HTTP = Path(sys.executable).with_name("http")

TAB = re.compile(r'^=== "(?P<tab>[^"]+)"')
FENCE = re.compile(r"^\s*```(?P<lang>\w*)\s*$")
STATUS = re.compile(r"^\s*\*\*`(?P<status>\d{3})`\*\*")


@dataclass
class Example:
    operation: str  # the section's title, e.g. "Create"
    kind: str  # "HTTPie" or "Python"
    code: str
    status: int  # the first status the page documents for the operation

    @property
    def id(self) -> str:
        return f"{self.kind}-{self.operation}".lower().replace(" ", "-")


def parse_seed(text: str) -> list[Example]:
    """The examples of each `### <operation>` section, from its HTTPie and Python tabs."""
    sections: dict[str, dict] = {}
    operation = tab = language = None
    code: list[str] = []
    for line in text.splitlines():
        if language is not None:
            if FENCE.match(line):
                sections[operation].setdefault(tab, "\n".join(code))
                language = None
            else:
                code.append(line)
        elif line.startswith("### "):
            operation, tab = line[4:].strip(), None
            sections[operation] = {}
        elif operation and (match := TAB.match(line)):
            tab = match["tab"]
        elif operation and tab and (match := FENCE.match(line)):
            language, code = match["lang"], []
        elif operation and tab == "Responses" and (match := STATUS.match(line)):
            sections[operation].setdefault("status", int(match["status"]))
    return [
        Example(name, kind, dedent(found[kind]), found["status"])
        for name, found in sections.items()
        for kind in ("HTTPie", "Python")
        if kind in found
    ]


def dedent(code: str) -> str:
    return textwrap.dedent(code).strip() + "\n"


def seed_examples() -> list[Example]:
    return parse_seed(SEED.read_text()) if SEED.exists() else []


EXAMPLES = seed_examples()


def test_the_seed_page_is_there_and_every_operation_has_both_examples():
    if not SEED.exists():
        where = f"the seed page is not at {SEED} (a copy of shared/ beside the clone)"
        if os.environ.get("CI"):
            pytest.fail(f"{where}: CI must run the seed's examples")  # never pass CI having run none
        pytest.skip(where)
    operations = {example.operation for example in EXAMPLES}
    assert operations == {
        "List server groups",
        "Get server group details",
        "Create",
        "Synchronize resource state",
        "Unlink resource",
        "Update",
        "Partial Update",
        "Delete server group",
    }
    assert len(EXAMPLES) == 2 * len(operations)
    assert all(EXAMPLE_URL in example.code and EXAMPLE_TOKEN in example.code for example in EXAMPLES)


# --- the world the examples run in ---------------------------------------------------------------------------


@pytest.fixture
def admin_token(world, cohort) -> str:
    """Staff, with a single tenant in state OK: the page's create names none."""
    from cohort.openstack.models import Tenant

    Tenant.objects.filter(pk=world.other_tenant.pk).update(state="ERRED")
    return token_of(world.users.staff)


@pytest.fixture
def group_uuid(cohort, admin_token, world) -> str:
    """A group made through the API and settled by the worker; dashed, as the page writes uuids."""
    headers = {"Authorization": f"Token {admin_token}"}
    url = f"{cohort.url}/api/openstack-tenants/{world.tenant.uuid.hex}/create_server_group/"
    created = httpx.post(url, json={"name": "seeded"}, headers=headers)
    assert created.status_code == 201, created.text
    group_url = f"{cohort.url}/api/openstack-server-groups/{created.json()['uuid']}/"
    wait_for(lambda: httpx.get(group_url, headers=headers).json()["state"] == "OK", "the group to settle")
    return str(uuid.UUID(created.json()["uuid"]))


def substitute(code: str, base_url: str, token: str, group: str) -> str:
    return code.replace(EXAMPLE_URL, base_url).replace(EXAMPLE_TOKEN, token).replace(EXAMPLE_UUID, group)


# --- HTTPie ------------------------------------------------------------------------------------------------


@pytest.fixture
def httpie_config(tmp_path) -> Path:
    """Print the status line and body, never read stdin (CI has none), no colours, and never look for
    a newer HTTPie (it would fetch packages.httpie.io: tests stay on this machine)."""
    options = ["--print=hb", "--pretty=none", "--ignore-stdin"]
    config = {"default_options": options, "disable_update_warnings": True}
    (tmp_path / "config.json").write_text(json.dumps(config))
    return tmp_path


def run_httpie(command: str, config_dir: Path) -> tuple[int, str]:
    """Run the command as a shell would, with this environment's `http` first on the PATH."""
    assert command.startswith("http "), command
    done = subprocess.run(
        ["bash", "-c", command],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={"HTTPIE_CONFIG_DIR": str(config_dir), "PATH": f"{HTTP.parent}:/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    status_line = done.stdout.splitlines()[0]
    return int(status_line.split()[1]), done.stdout


@pytest.mark.parametrize("example", [e for e in EXAMPLES if e.kind == "HTTPie"], ids=lambda e: e.id)
def test_httpie_example_gets_the_documented_status(example, cohort, admin_token, group_uuid, httpie_config):
    command = substitute(example.code, cohort.url, admin_token, group_uuid)
    status, output = run_httpie(command, httpie_config)
    assert status == example.status, output
    body = output.split("\n\n", 1)[1].strip() if "\n\n" in output else ""
    if body:
        assert isinstance(json.loads(body), dict | list)


# --- Python ------------------------------------------------------------------------------------------------


@pytest.fixture
def statuses(monkeypatch) -> list[int]:
    """The status of every response any httpx client receives while an example runs."""
    seen: list[int] = []
    send = httpx.Client.send

    def recording_send(self, request, **kwargs):
        response = send(self, request, **kwargs)
        seen.append(response.status_code)
        return response

    monkeypatch.setattr(httpx.Client, "send", recording_send)
    return seen


def stand_in(method: str) -> types.ModuleType:
    """What waldur-api-client 8.0.2's update / partial_update function did, for a client without it."""
    from waldur_api_client.errors import UnexpectedStatus
    from waldur_api_client.models import OpenStackServerGroup

    def sync(uuid, *, client, body):
        response = client.get_httpx_client().request(
            method, f"/api/openstack-server-groups/{uuid}/", json=body.to_dict()
        )
        if response.status_code != 200:
            raise UnexpectedStatus(response.status_code, response.content, response.url)
        return OpenStackServerGroup.from_dict(response.json())

    module = types.ModuleType(f"openstack_server_groups_{method}")
    module.sync = sync
    return module


class PatchedOpenStackServerGroupRequest:
    """8.0.2's PATCH body: every key optional."""

    def __init__(self, **fields):
        self.fields = fields

    def to_dict(self) -> dict:
        return {key: getattr(value, "value", value) for key, value in self.fields.items()}


STAND_INS = {
    "waldur_api_client.api.openstack_server_groups.openstack_server_groups_update": lambda: stand_in("put"),
    "waldur_api_client.api.openstack_server_groups.openstack_server_groups_partial_update": lambda: stand_in("patch"),
    "waldur_api_client.models.patched_open_stack_server_group_request": lambda: types.SimpleNamespace(
        PatchedOpenStackServerGroupRequest=PatchedOpenStackServerGroupRequest
    ),
}


@pytest.fixture
def removed_client_functions(monkeypatch) -> list[str]:
    """Put a stand-in where the installed client lacks a module the page imports; name those."""
    missing = []
    for name, make in STAND_INS.items():
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
            package, _, attribute = name.rpartition(".")
            monkeypatch.setitem(sys.modules, name, make())
            monkeypatch.setattr(importlib.import_module(package), attribute, sys.modules[name], raising=False)
    return missing


def run_python(code: str, name: str) -> str:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, f"<seed: {name}>", "exec"), {"__name__": "seed_example"})
    return printed.getvalue()


@pytest.mark.parametrize("example", [e for e in EXAMPLES if e.kind == "Python"], ids=lambda e: e.id)
def test_python_example_gets_the_documented_status(
    example, cohort, admin_token, group_uuid, statuses, removed_client_functions
):
    code = substitute(example.code, cohort.url, admin_token, group_uuid)
    try:
        printed = run_python(code, example.id)
    except AttributeError as error:
        # The page calls `.sync()` on operations that answer no body (unlink, destroy), for which the
        # client generates only `sync_detailed()`: the example fails before sending anything. Prove
        # that, then run it with the one call the client does have.
        assert "has no attribute 'sync'" in str(error) and statuses == [], (error, statuses)
        printed = run_python(code.replace(".sync(", ".sync_detailed("), example.id)
    assert statuses and statuses[-1] == example.status, (statuses, printed)
    assert printed.strip(), "the example prints its response"
