"""The `cohort` command: managing people, customers and clouds without touching the database, and
`cohort serve`, the embedded default, started as a user would."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from cohort.core.authentication import TokenAuthentication
from cohort.openstack.models import Tenant
from cohort.structure.models import Customer, CustomerRole, Project, ProjectRole, ServiceSettings


def run(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip()


@pytest.mark.django_db
def test_a_whole_setup_by_commands():
    run("user", "alice")
    run("user", "root", "--staff")
    customer = run("customer", "Acme", "--abbreviation", "ACME", "--native-name", "Acme Ltd")
    project = run("project", "Acme", "web")
    run("role", "alice", "owner", "--customer", customer)
    run("role", "alice", "member", "--project", "web")
    cloud = run("cloud", "prod", "--auth-url", "https://keystone.example.com/v3", "--credential", "username=c",
                "--credential", "password=secret", "--option", "interface=public", "--region", "R1")  # fmt: skip
    tenant = run("tenant", "acme-prod", "--cloud", "prod", "--project", project, "--backend-id", "os-project-1")

    assert Customer.objects.get(uuid=customer).abbreviation == "ACME"
    assert Project.objects.get(uuid=project).customer.name == "Acme"
    assert CustomerRole.objects.filter(user__username="alice", customer__uuid=customer, role="owner").exists()
    assert ProjectRole.objects.filter(user__username="alice", project__uuid=project, role="member").exists()
    settings = ServiceSettings.objects.get(uuid=cloud)
    assert (settings.credentials, settings.region, settings.verify_tls) == (
        {"username": "c", "password": "secret"},
        "R1",
        True,
    )
    access = Tenant.objects.get(uuid=tenant).cloud_access()
    assert (access.project_id, access.auth_url) == ("os-project-1", "https://keystone.example.com/v3")
    assert "secret" not in repr(access)

    user, _ = TokenAuthentication().authenticate_key(run("token", "alice"))
    assert user.username == "alice"
    run("role", "alice", "member", "--project", "web", "--revoke")
    assert not ProjectRole.objects.filter(user__username="alice").exists()


@pytest.mark.django_db
def test_credentials_given_to_commands_are_stored_encrypted_and_reach_the_driver():
    project = run("project", run("customer", "Acme"), "web")
    run("cloud", "prod", "--auth-url", "https://k/v3", "--credential", "username=cohort",
        "--credential", "password=cloud-secret", "--credential", "user_domain_name=Default")  # fmt: skip
    tenant = run("tenant", "t", "--cloud", "prod", "--project", project, "--backend-id", "p1",
                 "--credential", "username=own-user", "--credential", "password=tenant-secret")  # fmt: skip
    stored = []
    with connection.cursor() as cursor:
        for table in ("structure_servicesettings", "openstack_tenant"):
            cursor.execute(f"SELECT CAST(credentials AS TEXT) FROM {table}")
            stored += [row[0] for row in cursor.fetchall()]
    assert len(stored) == 2 and not any("secret" in text or "own-user" in text for text in stored)

    access = Tenant.objects.get(uuid=tenant).cloud_access()
    assert dict(access.credentials) == {
        "username": "own-user",
        "password": "tenant-secret",
        "user_domain_name": "Default",
    }
    assert "secret" not in repr(access)


@pytest.mark.django_db
def test_commands_explain_bad_references():
    with pytest.raises(CommandError, match="not found"):
        run("project", "No such customer", "web")
    with pytest.raises(CommandError, match="No user"):
        run("token", "nobody")
    run("user", "bob")
    with pytest.raises(CommandError, match="customer role"):
        run("role", "bob", "owner")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_starts_the_embedded_default(tmp_path):
    """`cohort serve` as the README runs it (on the in-memory cloud, to keep this test quick; the lab
    behind the same code is covered by tests/test_real_nova.py)."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("COHORT_")}
    env.update(COHORT_HOME=str(tmp_path), DJANGO_SETTINGS_MODULE="cohort.settings")
    command = [sys.executable, "-m", "cohort.cli", "serve", "--memory", "--bind", f"127.0.0.1:{port}"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        banner = []
        for line in process.stdout:
            banner.append(line)
            if line.startswith("Demo tenant:"):
                break
        text = "".join(banner)
        assert "IN-MEMORY" in text
        token = next(line.split()[-1] for line in banner if line.startswith("Admin token:"))
        tenant = banner[-1].split()[-1]
        api = f"http://127.0.0.1:{port}/api"

        def call(path, body=None):
            data = json.dumps(body).encode() if body is not None else None
            headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
            request = urllib.request.Request(f"{api}{path}", data=data, headers=headers)
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")

        deadline = time.monotonic() + 60
        while True:
            try:
                status, body = call(f"/openstack-tenants/{tenant}/create_server_group/", {"name": "web"})
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "cohort serve did not answer"
                time.sleep(0.3)
        assert (status, body["state"]) == (201, "CREATION_SCHEDULED")
        while call(f"/openstack-server-groups/{body['uuid']}/")[1]["state"] != "OK":
            assert time.monotonic() < deadline, "the embedded worker did not create the group"
            time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stdout.close()
    assert process.returncode == 0
