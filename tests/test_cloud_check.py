"""`cohort cloud` logs in before it registers, and says what is wrong: Keystone unreachable, the
credentials refused (401), the project unknown, no compute endpoint in the catalog. Against the lab's
real Keystone and the 401-answering one (tests/refusing_keystone.py)."""

import http.server
import io
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

import cohort_lab
from cohort.structure.models import ServiceSettings
from tests.clients.conftest import free_port
from tests.refusing_keystone import Refuses401

needs_lab = pytest.mark.skipif(not cohort_lab.nova_installed(), reason="needs the `lab` extra")


def register(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("cloud", *args, stdout=out, stderr=err)
    return out.getvalue().strip(), err.getvalue()


def user_args(access, password=None):
    creds = access.credentials
    return [
        "--credential", f"username={creds['username']}",
        "--credential", f"password={password or creds['password']}",
        "--credential", "user_domain_name=Default",
        "--region", access.region,
    ]  # fmt: skip


@pytest.fixture
def refusing_keystone():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuses401)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/v3"
    server.shutdown()
    server.server_close()


def test_unreachable_keystone_is_said_and_nothing_registered(db):
    url = f"http://127.0.0.1:{free_port()}/v3"
    with pytest.raises(CommandError, match="is unreachable") as caught:
        register("nowhere", "--auth-url", url, "--credential", "username=u", "--credential", "password=s3cret-pw")
    assert "s3cret-pw" not in str(caught.value) and "--no-check" in str(caught.value)
    assert not ServiceSettings.objects.filter(name="nowhere").exists()


def test_a_keystone_answering_401_is_said(db, refusing_keystone):
    args = ["--credential", "username=cohort", "--credential", "password=s3cret-pw"]
    with pytest.raises(CommandError, match=r"refused user cohort \(401\)") as caught:
        register("refusing", "--auth-url", refusing_keystone, *args)
    assert "s3cret-pw" not in str(caught.value)
    assert not ServiceSettings.objects.filter(name="refusing").exists()


def test_no_check_registers_without_logging_in(db, refusing_keystone):
    uuid_hex, _ = register("unchecked", "--auth-url", refusing_keystone, "--no-check")
    assert ServiceSettings.objects.get(name="unchecked").uuid.hex == uuid_hex


@needs_lab
def test_good_credentials_on_the_lab_register_and_name_nova(db, lab):
    access = lab.tenant("cloud-check")
    uuid_hex, said = register("lab-ok", "--auth-url", lab.auth_url, *user_args(access), "--project", "cloud-check")
    assert ServiceSettings.objects.get(name="lab-ok").uuid.hex == uuid_hex
    assert f"on project {access.project_id}; Nova at {lab.endpoint}" in said


@needs_lab
def test_a_wrong_password_on_the_lab_is_a_401(db, lab):
    access = lab.tenant("cloud-check")
    with pytest.raises(CommandError, match=r"refused user cloud-check \(401\)") as caught:
        register("lab-401", "--auth-url", lab.auth_url, *user_args(access, password="wrong-pw-123"))
    assert "wrong-pw-123" not in str(caught.value)


@needs_lab
def test_an_unknown_project_on_the_lab_is_said(db, lab):
    access = lab.tenant("cloud-check")
    with pytest.raises(CommandError, match="not on project 'no-such-project'"):
        register("lab-project", "--auth-url", lab.auth_url, *user_args(access), "--project", "no-such-project")


@needs_lab
def test_a_region_without_compute_is_said(db, lab):
    access = lab.tenant("cloud-check")
    args = [*user_args(access)[:-2], "--region", "RegionTwo", "--project", "cloud-check"]
    with pytest.raises(CommandError, match="lists no compute endpoint in region 'RegionTwo'"):
        register("lab-region", "--auth-url", lab.auth_url, *args)


@needs_lab
@pytest.mark.parametrize("domain", ["project_domain_name=Default", "project_domain_id=default"])
def test_a_project_domain_in_the_credentials_scopes_the_project_named_by_name(db, lab, domain):
    """It once ended in `TypeError: got multiple values for keyword argument 'project_domain_name'`."""
    access = lab.tenant("cloud-check")
    args = [*user_args(access), "--credential", domain, "--project", "cloud-check"]
    uuid_hex, said = register("lab-domain", "--auth-url", lab.auth_url, *args)
    assert f"on project {access.project_id}; Nova at {lab.endpoint}" in said
    key, value = domain.split("=")
    assert ServiceSettings.objects.get(uuid=uuid_hex).credentials[key] == value
