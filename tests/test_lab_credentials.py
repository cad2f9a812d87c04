"""A registered cloud that stops working, on the lab's real Keystone: a changed password, a revoked
application credential, Keystone unreachable, the compute endpoint gone from the catalog. The
tenant's operations go ERRED with the cause (Keystone's own words where it answered; never a secret
in a record or a log line), and come back once the fault is gone and a pull runs. (The same faults at
registration are refused by `cohort cloud`: tests/test_cloud_check.py.)

Nova's auth_token middleware caches a token it has validated (five minutes by default), and Cohort's
driver keeps a tenant's session for ten: a token issued before the change goes on working until then,
on the lab as on a real cloud. The tests start from the next login (`_sessions.clear()`, what a new
worker process or an expired session does), which is where a stale credential shows.
"""

import logging
import urllib.parse
import uuid

import pytest

import cohort_lab
from cohort.cloud import openstack as openstack_driver
from cohort.core.states import State
from cohort.openstack.models import ServerGroup
from cohort.structure.models import ServiceSettings
from tests.conftest import make_tenant
from tests.tcp_relay import Relay

pytestmark = pytest.mark.skipif(not cohort_lab.nova_installed(), reason="needs the `lab` extra")

URL = "/api/openstack-server-groups/"
KEYSTONE_REFUSAL = "The request you have made requires authentication."


@pytest.fixture
def ops(world, api, settings, django_capture_on_commit_callbacks):
    settings.CLOUD_DRIVER = "cohort.cloud.openstack.OpenStackDriver"
    staff, capture = world.users.staff, django_capture_on_commit_callbacks

    class Ops:
        def register(self, lab, access, *, auth_url="", region=""):
            name = f"lab {uuid.uuid4().hex[:8]}"
            cloud = ServiceSettings.objects.create(
                name=name,
                auth_url=auth_url or lab.auth_url,
                region=region or access.region,
                auth_type=access.auth_type,
            )
            tenant = make_tenant("lab-tenant", world.web, cloud, backend_id=access.project_id)
            return self.use(tenant, access)

        def use(self, tenant, access):
            tenant.credentials = dict(access.credentials)
            tenant.save()
            return tenant

        def create(self, tenant, name):
            with capture(execute=True):
                body = {"name": name, "policy": "anti-affinity"}
                response = api(staff).post(f"/api/openstack-tenants/{tenant.uuid.hex}/create_server_group/", body)
            assert response.status_code == 201, response.content
            return ServerGroup.objects.get(uuid=response.json()["uuid"])

        def pull_tenant(self, tenant):
            with capture(execute=True):
                url = f"/api/openstack-tenants/{tenant.uuid.hex}/pull_server_groups/"
                assert api(staff).post(url).status_code == 202

        def pull(self, group):
            with capture(execute=True):
                assert api(staff).post(f"{URL}{group.uuid.hex}/pull/").status_code == 202
            group.refresh_from_db()
            return group

    return Ops()


def assert_no_secret(secrets, caplog, *groups):
    for group in groups:
        for secret in secrets:
            assert secret not in group.error_message and secret not in group.error_traceback
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in secrets:
        assert secret not in logged


def test_a_changed_password_errs_with_keystones_words_and_recovers_after_a_fix_and_pull(lab, ops, caplog):
    caplog.set_level(logging.INFO)  # at DEBUG keystoneauth logs the lab admin's user-creation bodies
    name = f"pw-{uuid.uuid4().hex[:10]}"
    old = lab.tenant(name)
    tenant = ops.register(lab, old)
    before = ops.create(tenant, "before")
    assert before.state == State.OK

    new = cohort_lab.create_tenant(lab.admin(), name)  # the operator changes the user's password
    openstack_driver._sessions.clear()
    refused = ops.create(tenant, "refused")
    pulled = ops.pull(before)
    for group in (refused, pulled):
        assert group.state == State.ERRED and KEYSTONE_REFUSAL in group.error_message, group.error_message
        assert "Keystone refused the credentials" in group.error_message
    assert_no_secret([old.credentials["password"], new.credentials["password"]], caplog, refused, pulled)

    ops.use(tenant, new)  # the credential fixed in Cohort
    assert ops.pull(before).state == State.OK and before.error_message == ""
    assert ops.create(tenant, "after").state == State.OK


def test_a_revoked_application_credential_errs_and_recovers_with_a_new_one(lab, ops, caplog):
    caplog.set_level(logging.INFO)
    user = lab.tenant(f"ac-{uuid.uuid4().hex[:10]}")
    first = cohort_lab.create_application_credential(user, "cohort-1")
    tenant = ops.register(lab, first)
    before = ops.create(tenant, "before")
    assert before.state == State.OK

    cohort_lab.delete_application_credential(user, first.credentials["application_credential_id"])
    openstack_driver._sessions.clear()
    pulled = ops.pull(before)
    # Keystone answers a deleted application credential with 404: a refused login, never "gone"
    assert pulled.state == State.ERRED and "Keystone refused the credentials" in pulled.error_message
    assert "Application Credential" in pulled.error_message and "gone" not in pulled.error_message
    assert_no_secret([first.credentials["application_credential_secret"]], caplog, pulled)
    ops.pull_tenant(tenant)  # a refused login removes no record
    assert ServerGroup.objects.filter(pk=before.pk).exists()

    second = cohort_lab.create_application_credential(user, "cohort-2")
    ops.use(tenant, second)
    assert ops.pull(before).state == State.OK


def test_the_second_demo_tenant_logs_in_with_an_application_credential(lab, db):
    from cohort.cloud.base import Forbidden
    from cohort.cloud.openstack import OpenStackDriver
    from cohort.embedded import demo
    from cohort.embedded.management.commands.serve import Command

    first = Command.application_credential(lab)
    tenant = demo.bootstrap(lab.tenant(demo.DEMO_PROJECT), app_access=first)["app_tenant"]
    assert tenant.service_settings.auth_type == "v3applicationcredential"
    assert tenant.backend_id != demo.bootstrap(lab.tenant(demo.DEMO_PROJECT), app_access=first)["tenant"].backend_id
    assert OpenStackDriver(tenant.cloud_access()).list_server_groups() == []  # it logs in

    second = Command.application_credential(lab)  # the next start of serve: the first is revoked
    openstack_driver._sessions.clear()
    with pytest.raises(Forbidden, match="Keystone refused the credentials"):
        OpenStackDriver(first).list_server_groups()
    tenant = demo.bootstrap(lab.tenant(demo.DEMO_PROJECT), app_access=second)["app_tenant"]
    assert OpenStackDriver(tenant.cloud_access()).list_server_groups() == []


def test_keystone_unreachable_after_registration_errs_with_the_cause_and_recovers_by_pull(lab, ops, settings):
    settings.STEP_ATTEMPTS = 1  # a create that cannot log in errs at once (the retries: test_intent)
    keystone = urllib.parse.urlsplit(lab.auth_url)
    relay = Relay((keystone.hostname, keystone.port))  # the network path from Cohort to Keystone
    try:
        auth_url = f"http://127.0.0.1:{relay.port}/v3"
        tenant = ops.register(lab, lab.tenant(f"net-{uuid.uuid4().hex[:10]}"), auth_url=auth_url)
        before = ops.create(tenant, "before")
        assert before.state == State.OK

        relay.cut()
        openstack_driver._sessions.clear()
        refused = ops.create(tenant, "refused")
        pulled = ops.pull(before)
        for group in (refused, pulled):
            assert group.state == State.ERRED, group.error_message
            assert "The cloud did not answer" in group.error_message
            assert f"127.0.0.1:{relay.port}" in group.error_message  # which address did not answer

        relay.restore()
        assert ops.pull(before).state == State.OK and before.error_message == ""
        assert ops.create(tenant, "after").state == State.OK
    finally:
        relay.close()


def test_a_compute_endpoint_gone_from_the_catalog_errs_and_recovers_once_it_is_back(lab, ops):
    region = f"Region-{uuid.uuid4().hex[:8]}"
    admin = lab.admin()
    endpoint = cohort_lab.add_compute_endpoint(admin, region, lab.endpoint)
    try:
        tenant = ops.register(lab, lab.tenant(f"cat-{uuid.uuid4().hex[:10]}"), region=region)
        before = ops.create(tenant, "before")
        assert before.state == State.OK

        cohort_lab.delete_endpoint(admin, endpoint)  # the operator takes the region's Nova out
        openstack_driver._sessions.clear()
        refused = ops.create(tenant, "refused")
        pulled = ops.pull(before)
        for group in (refused, pulled):  # not a transient fault: ERRED at once, no retries
            assert group.state == State.ERRED, group.error_message
            assert "lists no compute endpoint" in group.error_message and region in group.error_message

        endpoint = cohort_lab.add_compute_endpoint(admin, region, lab.endpoint)  # no session cleared here:
        # the pull logs in again by itself, since a token without compute in its catalog is not kept
        assert ops.pull(before).state == State.OK and before.error_message == ""
        assert ops.create(tenant, "after").state == State.OK
    finally:
        cohort_lab.delete_endpoint(admin, endpoint)
