"""What only the OpenStack driver does, checked against the lab's real Nova.

The contract tests cover behaviour both drivers share; these cover the OpenStack side of the
boundary: the older `policies` shape on a cloud without microversion 2.64, moves a cloud too old for
them refuses in words (live migration below 2.30, a cold one to a named host below 2.56, a failure's
words below 2.84), paging on both listings,
and failures that never reach Nova (a dead Keystone, a refused password) arriving as `CloudError`s;
and the lab's own wiring: Nova answers only tokens its Keystone issued, and is found in the catalog.
"""

from __future__ import annotations

import dataclasses
import http.server
import socket
import threading
import time

import pytest
import requests

import cohort_lab
from cohort.cloud.base import BadRequest, CloudAccess, Forbidden, Unreachable
from cohort.cloud.openstack import OpenStackDriver, _older
from tests.refusing_keystone import Refuses401

pytestmark = pytest.mark.database_free


class PreRulesNovaDriver(OpenStackDriver):
    """The driver as it behaves on a cloud whose newest compute microversion is 2.60."""

    wanted_microversion = "2.60"


class SmallPagesDriver(OpenStackDriver):
    """The driver reading listings two items at a time, so paging is exercised on a few items."""

    page_size = 2


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_negotiates_2_64(lab: cohort_lab.Lab) -> None:
    driver = OpenStackDriver(lab.tenant("negotiation"))

    group = driver.create_server_group(name="db", policy="anti-affinity", rules={"max_server_per_host": 3})

    assert driver._negotiated_microversion() == "2.64"
    assert (group.policy, dict(group.rules)) == ("anti-affinity", {"max_server_per_host": 3})


def test_older_cloud_gets_the_policies_shape(lab: cohort_lab.Lab) -> None:
    old = PreRulesNovaDriver(lab.tenant("old-shape"))
    current = OpenStackDriver(lab.tenant("old-shape"))

    group = old.create_server_group(name="web", policy="soft-anti-affinity")

    assert (group.policy, dict(group.rules)) == ("soft-anti-affinity", {})
    assert old.get_server_group(group.id) == group
    assert current.get_server_group(group.id).policy == "soft-anti-affinity"
    with pytest.raises(BadRequest, match="rules need 2.64"):
        old.create_server_group(name="db", policy="anti-affinity", rules={"max_server_per_host": 2})


def test_listings_read_every_page(lab: cohort_lab.Lab) -> None:
    access = lab.tenant("small-pages")
    driver = SmallPagesDriver(access)
    groups = [driver.create_server_group(name=f"g{n}", policy="affinity") for n in range(5)]
    servers = [cohort_lab.boot_server(access, f"s{n}") for n in range(3)]

    assert sorted(g.id for g in driver.list_server_groups()) == sorted(g.id for g in groups)
    assert sorted(s.id for s in driver.list_servers()) == sorted(s.id for s in servers)


def test_dead_keystone_is_unreachable() -> None:
    access = CloudAccess(
        auth_url=f"http://127.0.0.1:{_free_port()}/v3",
        project_id="nobody",
        credentials={"username": "demo", "password": "secret", "user_domain_name": "Default"},
        options={"timeout": 5},
    )

    with pytest.raises(Unreachable):
        OpenStackDriver(access).list_server_groups()


def test_wrong_password_is_refused_by_keystone(lab: cohort_lab.Lab) -> None:
    good = lab.tenant("wrong-password")
    access = dataclasses.replace(good, credentials={**good.credentials, "password": "not-the-password"})

    with pytest.raises(Forbidden, match="requires authentication") as refused:
        OpenStackDriver(access).list_server_groups()
    assert "not-the-password" not in str(refused.value)


def test_nova_refuses_a_request_without_a_valid_token(lab: cohort_lab.Lab) -> None:
    """keystonemiddleware's auth_token guards Nova: a made-up token is 401, whatever it names."""
    for headers in ({}, {"X-Auth-Token": "demo:demo-project"}):
        response = requests.get(f"{lab.endpoint}/os-server-groups", headers=headers, timeout=10)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"] == f'Keystone uri="{lab.auth_url}"'


def test_the_catalog_leads_from_keystone_to_nova(lab: cohort_lab.Lab) -> None:
    connection = cohort_lab.connect(lab.tenant("catalog"))
    assert connection.session.get_endpoint(service_type="compute", interface="public") == lab.endpoint


def test_real_clouds_get_keystone_v3_plugins_with_tls_verification_on() -> None:
    """No network: the connection is built, not used (keystoneauth authenticates on first use)."""
    from cohort.cloud.openstack import connect

    password = CloudAccess(
        auth_url="https://keystone.example.invalid/v3",
        project_id="tenant-project",
        credentials={"username": "cohort", "password": "secret", "user_domain_name": "Default"},
    )
    connection = connect(password)
    assert connection.session.verify is True
    auth = type(connection.session.auth)
    assert (auth.__module__, auth.__name__) == ("keystoneauth1.identity.v3.password", "Password")
    assert connection.session.auth.project_id == "tenant-project"  # the token is scoped to the tenant
    assert connection.session.auth.auth_url == "https://keystone.example.invalid/v3"

    credential = CloudAccess(
        auth_url="https://keystone.example.invalid/v3",
        project_id="tenant-project",
        auth_type="v3applicationcredential",
        credentials={"application_credential_id": "id", "application_credential_secret": "s"},
        verify_tls=False,
    )
    connection = connect(credential)
    assert type(connection.session.auth).__name__ == "ApplicationCredential"
    assert connection.session.verify is False  # only when the operator asks for it


def test_an_application_credential_reaches_nova_through_keystone(lab: cohort_lab.Lab) -> None:
    """The other way real clouds are registered: the credential is bound to its project."""
    password = lab.tenant("application-credential")
    credential = cohort_lab.create_application_credential(password, "cohort")
    driver = OpenStackDriver(credential)

    group = driver.create_server_group(name="web", policy="anti-affinity")

    assert credential.auth_type == "v3applicationcredential" and "password" not in credential.credentials
    assert [g.id for g in OpenStackDriver(password).list_server_groups()] == [group.id]  # the same project


def test_a_tenant_keeps_one_connection_across_drivers(lab: cohort_lab.Lab) -> None:
    """A worker makes a driver per task; the tenant's login and version discovery are done once."""
    access = lab.tenant("shared-session")
    first, second = OpenStackDriver(access), OpenStackDriver(access)
    assert first._connection is second._connection
    first.list_server_groups()
    assert second._session.microversions == {"2.64": "2.64"}  # negotiated by the first driver
    other = OpenStackDriver(lab.tenant("another-project"))
    assert other._connection is not first._connection


def bounded(call, seconds: float):
    """Run `call` in a thread; fail (instead of hanging the suite) if it is not done in `seconds`."""
    outcome = {}

    def run():
        try:
            outcome["value"] = call()
        except Exception as error:
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"the call did not return within {seconds} s"
    return outcome, time.monotonic() - started


@pytest.mark.parametrize(
    "auth_type, credentials",
    [("admin_token", {"token": "demo:p"}), ("password", {"username": "u", "password": "p", "user_domain_name": "D"})],
    ids=["nova", "keystone"],
)
def test_a_cloud_that_never_answers_times_out(auth_type, credentials) -> None:
    """Connected, but no answer ever comes (a hung Nova, or a hung Keystone while authenticating):
    the call gives up after its timeout."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # the kernel accepts connections; nobody reads them
        access = CloudAccess(
            auth_url=f"http://127.0.0.1:{silent.getsockname()[1]}/v2.1",
            project_id="p",
            auth_type=auth_type,
            credentials=credentials,
            options={"timeout": 1},
        )
        outcome, took = bounded(lambda: OpenStackDriver(access).list_server_groups(), 15)
    assert isinstance(outcome.get("error"), Unreachable), outcome
    assert took < 10


@pytest.mark.parametrize("suffix", ["/v3", ""])
def test_a_keystone_answering_401_to_discovery_is_a_refusal_not_a_hang(suffix) -> None:
    """keystoneauth's generic plugins deadlock here (a 401 discovery is retried authenticated under
    the plugin's own lock); the driver's v3 plugins post the credentials and get a plain 401."""
    keystone = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuses401)
    threading.Thread(target=keystone.serve_forever, daemon=True).start()
    try:
        access = CloudAccess(
            auth_url=f"http://127.0.0.1:{keystone.server_port}{suffix}",
            project_id="p",
            credentials={"username": "cohort", "password": "wrong", "user_domain_name": "Default"},
            options={"timeout": 5},
        )
        outcome, _ = bounded(lambda: OpenStackDriver(access).list_server_groups(), 15)
    finally:
        keystone.shutdown()
    assert isinstance(outcome.get("error"), Forbidden), outcome
    assert "requires authentication" in outcome["error"].message


def _capped(access: CloudAccess, newest: str) -> OpenStackDriver:
    """The driver as it behaves on a cloud whose newest compute microversion is `newest`."""

    class OlderNovaDriver(OpenStackDriver):
        def _negotiated_microversion(self, wanted: str | None = None) -> str:
            chosen = super()._negotiated_microversion(wanted)
            return newest if _older(newest, chosen) else chosen

    return OlderNovaDriver(access)


def test_an_older_cloud_says_which_move_it_cannot_make(lab: cohort_lab.Lab) -> None:
    access = lab.tenant("old-moves")
    group = OpenStackDriver(access).create_server_group(name="alone", policy="affinity")
    server = cohort_lab.boot_server(access, "alone", group.id)
    at_2_25, at_2_83 = _capped(lab.admin(), "2.25"), _capped(lab.admin(), "2.83")

    with pytest.raises(BadRequest) as live:
        at_2_25.live_migrate_server(server.id)
    with pytest.raises(BadRequest) as cold_to_host:
        at_2_25.migrate_server(server.id, host="host2")
    # alone in an affinity group, a server has no host to go to but its own: the move fails
    at_2_83.migrate_server(server.id)
    deadline = time.monotonic() + 30
    while not at_2_83.list_server_migrations(server.id)[-1].failed and time.monotonic() < deadline:
        time.sleep(0.1)

    assert live.value.message == "This cloud's compute API stops at microversion 2.25; a live migration needs 2.30+."
    assert cold_to_host.value.message == (
        "This cloud's compute API stops at microversion 2.25; a cold migration to a named host needs 2.56+."
    )
    assert at_2_83.move_failure(server.id) == "Nova recorded this move as failed; why needs compute API 2.84+."
    assert OpenStackDriver(lab.admin()).move_failure(server.id) == (
        "No valid host was found. No valid host found for cold migrate"
    )
