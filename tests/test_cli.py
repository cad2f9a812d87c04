"""The `cohort` command: managing people, customers and clouds without touching the database.
`cohort serve`, the embedded default, is started as a user would in tests/test_serve.py."""

import json
import subprocess

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from cohort.core.authentication import TokenAuthentication
from cohort.openstack.models import Tenant
from cohort.structure.models import Customer, CustomerRole, Project, ProjectRole, ServiceSettings
from tests import services


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
                "--credential", "password=secret", "--option", "interface=public", "--region", "R1",
                "--no-check")  # fmt: skip
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
        "--credential", "password=cloud-secret", "--credential", "user_domain_name=Default",
        "--no-check")  # fmt: skip
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
    with pytest.raises(CommandError, match="one of the arguments --customer --project is required"):
        run("role", "bob", "owner")


def test_lab_host_without_a_running_lab_says_so(tmp_path):
    for action in ("add", "disable", "enable"):
        with pytest.raises(CommandError, match=f"no lab is running at {tmp_path}"):
            run("lab-host", action, "host4", "--lab-dir", str(tmp_path))
    # a lab that died without removing its lab.json: nothing answers on its ports
    info = {"endpoint": "http://127.0.0.1:9/v2.1", "auth_url": "http://127.0.0.1:9/v3", "admin_password": "x",
            "control_secret": "x"}  # fmt: skip
    (tmp_path / "lab.json").write_text(json.dumps(info))
    for action in ("add", "disable"):
        with pytest.raises(CommandError, match="no lab answers at http://127.0.0.1:9"):
            run("lab-host", action, "host4", "--lab-dir", str(tmp_path))


def test_lab_boot_on_the_in_memory_cloud_says_why_it_cannot(world):
    ServiceSettings.objects.filter(pk=world.cloud.pk).update(auth_url="memory://demo")
    with pytest.raises(CommandError, match="in-memory cloud"):
        run("lab-boot", world.tenant.uuid.hex, "vm-1")


# --- mistakes on the command line: a usage line and exit status 2, never a traceback --------------------------

COHORT_COMMANDS = sorted(
    name for name, app in __import__("django.core.management").core.management.get_commands().items()
    if app.startswith("cohort")
)  # fmt: skip


def cohort_cli(*args: str, tmp_path) -> subprocess.CompletedProcess:
    env = services.cohort_env(tmp_path / "home")
    return subprocess.run(services.cohort(*args), env=env, capture_output=True, text=True, timeout=60)


def assert_usage_error(done: subprocess.CompletedProcess, *named: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert done.stderr.startswith("usage: cohort"), done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    for text in named:
        assert text in done.stderr, (text, done.stderr[-2000:])


def test_every_cohort_command_is_checked_below():
    assert set(COHORT_COMMANDS) >= {
        "serve", "web", "worker", "beat", "cloud", "tenant", "user", "role", "lab-boot", "lab-host"
    }  # fmt: skip


def test_an_unknown_option_of_any_cohort_command_is_a_usage_error(tmp_path):
    for name in COHORT_COMMANDS:
        done = cohort_cli(name, "--no-such-option", tmp_path=tmp_path)
        # argparse names what is missing before what is unknown
        assert_usage_error(done, "arguments are required" if "required" in done.stderr else "--no-such-option")


@pytest.mark.parametrize(
    "args, named",
    [
        (["no-such-command"], "unknown command 'no-such-command'"),
        (["user", "alice", "--staff", "--no-staff"], "argument --no-staff: not allowed with argument --staff"),
        (["role", "alice", "owner", "--project", "web"], "argument --project: owner is a customer role"),
        (["role", "alice", "member", "--customer", "acme"], "argument --customer: member is a project role"),
        (["role", "alice", "member", "--customer", "acme", "--project", "web"], "not allowed with argument"),
        (["cloud", "c", "--auth-url", "http://k/v3", "--credential", "password"], "argument --credential: expected"),
        (["cloud", "c", "--auth-url", "http://k/v3", "--credential", "colour=blue"], "takes no colour"),
        (["cloud", "c", "--auth-url", "http://k/v3", "--auth-type", "admin_token", "--credential", "username=u"],
         "--auth-type admin_token takes no username"),
        (["cloud", "c", "--auth-url", "http://k/v3", "--credential", "username=a", "--credential", "username=b"],
         "argument --credential: username is given twice"),
        (["cloud", "c", "--auth-url", "http://k/v3", "--no-check", "--project", "admin"], "argument --project"),
        (["cloud", "c", "--auth-url", "http://k/v3", "--auth-type", "kerberos"], "argument --auth-type"),
        (["serve", "--memory", "--reset-lab"], "argument --reset-lab"),
        (["serve", "--bind", "8000"], "argument --bind"),
        (["web", "--workers", "0"], "argument --workers: must be at least 1"),
        (["web", "--bind", "127.0.0.1:99999"], "argument --bind"),
        (["lab", "--hosts", "none"], "argument --hosts"),
        (["lab", "--port", "0"], "argument --port"),
        (["worker", "--concurrency", "4"], "unrecognized arguments: --concurrency"),
        (["lab-host", "add"], "the following arguments are required: name"),
        (["lab-host", "remove", "host4"], "argument action: invalid choice: 'remove'"),
        (["lab-host", "add", "host 4"], "argument name: 'host 4' is not a host name"),
        (["lab-host", "enable", "h/1"], "argument name: 'h/1' is not a host name"),
    ],
)  # fmt: skip
def test_conflicting_or_bad_options_are_a_usage_error(args, named, tmp_path):
    assert_usage_error(cohort_cli(*args, tmp_path=tmp_path), named)


@pytest.mark.django_db
def test_a_tenant_credential_its_cloud_does_not_take_is_a_usage_error(world):
    with pytest.raises(CommandError, match="argument --credential: the cloud's auth type admin_token takes no user"):
        run("tenant", "t2", "--cloud", world.cloud.uuid.hex, "--project", world.web.uuid.hex, "--backend-id", "p2",
            "--credential", "username=u")  # fmt: skip
    assert not Tenant.objects.filter(name="t2").exists()
