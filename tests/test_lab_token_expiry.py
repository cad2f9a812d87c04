"""Tokens that expire in the middle of a run: the lab's Keystone issues tokens that live a few
seconds, and a series of creates spread over several lifetimes all reach OK, Cohort logging in again
on its own (keystoneauth renews a token that is about to expire; Nova's auth_token refuses an expired
one)."""

import time
import uuid

import pytest

import cohort_lab
from cohort.core.states import State
from cohort.openstack.models import ServerGroup
from cohort.structure.models import ServiceSettings
from tests.conftest import make_tenant

pytestmark = [pytest.mark.skipif(not cohort_lab.nova_installed(), reason="needs the `lab` extra"), pytest.mark.slow]

TOKEN_SECONDS = 3


@pytest.fixture(scope="module")
def short_lived_lab():
    lab = cohort_lab.start_lab(token_expiration=TOKEN_SECONDS, timeout=240)
    yield lab
    lab.stop()


def test_creates_across_several_token_lifetimes_all_reach_ok(
    short_lived_lab, world, api, settings, django_capture_on_commit_callbacks
):
    settings.CLOUD_DRIVER = "cohort.cloud.openstack.OpenStackDriver"
    lab = short_lived_lab
    access = lab.tenant(f"expiry-{uuid.uuid4().hex[:8]}")
    cloud = ServiceSettings.objects.create(name="short tokens", auth_url=lab.auth_url, region=access.region)
    tenant = make_tenant("expiry", world.web, cloud, backend_id=access.project_id)
    tenant.credentials = dict(access.credentials)
    tenant.save()

    started = time.monotonic()
    for n in range(4):
        with django_capture_on_commit_callbacks(execute=True):
            url = f"/api/openstack-tenants/{tenant.uuid.hex}/create_server_group/"
            assert api(world.users.staff).post(url, {"name": f"g{n}"}).status_code == 201
        time.sleep(TOKEN_SECONDS * 0.75)
    assert time.monotonic() - started > 2 * TOKEN_SECONDS  # the run outlived the first tokens
    states = dict(ServerGroup.objects.filter(tenant=tenant).values_list("name", "state"))
    assert states == {f"g{n}": State.OK for n in range(4)}, ServerGroup.objects.values("name", "error_message")
