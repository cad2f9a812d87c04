"""Tokens that expire in the middle of a run: the lab's Keystone issues tokens that live two seconds,
and a series of creates spread over several lifetimes all reach OK.

keystoneauth renews a token once it has less than two minutes to live, so with tokens this short it
would log in before every call and never send an expired one. The test lets it keep its token to the
end and past it (as a client whose clock runs behind the cloud's would): Nova's auth_token then
refuses the expired token with 401, and keystoneauth logs in again and repeats the call, with nothing
for Cohort to do: the hardest case of expiry, which also holds the usual one (renewal ahead of time).
"""

import time
import uuid

import pytest
from keystoneauth1.identity.base import BaseIdentityPlugin

import cohort_lab
from cohort.cloud import openstack as openstack_driver
from cohort.core.states import State
from cohort.openstack.models import ServerGroup
from cohort.structure.models import ServiceSettings
from tests.conftest import make_tenant

pytestmark = [pytest.mark.skipif(not cohort_lab.nova_installed(), reason="needs the `lab` extra"), pytest.mark.slow]

TOKEN_SECONDS = 2
CREATES = 4


@pytest.fixture(scope="module")
def short_lived_lab():
    lab = cohort_lab.start_lab(token_expiration=TOKEN_SECONDS, timeout=240)
    yield lab
    lab.stop()


@pytest.fixture
def series(short_lived_lab, world, api, settings, django_capture_on_commit_callbacks):
    """Run `CREATES` creates in a fresh tenant of the lab, each more than a token's life after the last."""
    settings.CLOUD_DRIVER = "cohort.cloud.openstack.OpenStackDriver"
    lab = short_lived_lab
    openstack_driver._sessions.clear()

    def run():
        access = lab.tenant(f"expiry-{uuid.uuid4().hex[:8]}")
        cloud = ServiceSettings.objects.create(name=f"short {access.project_id}", auth_url=lab.auth_url)
        tenant = make_tenant(f"expiry-{access.project_id[:6]}", world.web, cloud, backend_id=access.project_id)
        tenant.credentials = dict(access.credentials)
        tenant.save()
        started = time.monotonic()
        for n in range(CREATES):
            with django_capture_on_commit_callbacks(execute=True):
                url = f"/api/openstack-tenants/{tenant.uuid.hex}/create_server_group/"
                assert api(world.users.staff).post(url, {"name": f"g{n}"}).status_code == 201
            # Past the token's whole life (Keystone's expiry has whole seconds), however fast the
            # create was: the next create's token, taken at the latest at this one, has expired.
            time.sleep(TOKEN_SECONDS + 1)
        assert time.monotonic() - started > 2 * TOKEN_SECONDS  # the run outlived the first tokens
        return dict(ServerGroup.objects.filter(tenant=tenant).values_list("name", "state"))

    return run


ALL_OK = {f"g{n}": State.OK for n in range(CREATES)}


def test_creates_across_token_lifetimes_reach_ok_when_each_token_expires_in_use(series, monkeypatch):
    monkeypatch.setattr(BaseIdentityPlugin, "MIN_TOKEN_LIFE_SECONDS", -3600)  # keep tokens past their end
    invalidate, renewals = BaseIdentityPlugin.invalidate, []

    def counted(self):  # keystoneauth calls it when a service answered 401, before it tries again
        renewals.append(self)
        return invalidate(self)

    monkeypatch.setattr(BaseIdentityPlugin, "invalidate", counted)
    assert series() == ALL_OK
    assert len(renewals) >= CREATES - 1  # every create after the first met an expired token
