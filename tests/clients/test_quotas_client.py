"""Tenant quotas through the published client, waldur-api-client 8.1.3, as its functions are called:
`openstack_tenants_retrieve` parses `quotas` as its `Quota` objects; `openstack_tenants_pull_quotas`
and `openstack_tenants_set_quotas` answer its `Status` (202), the latter's body carrying Cohort's two
quota names as the body class's additional properties.

The live server's cloud lives in memory, one per process: `pull_quotas` reads it in the worker, and
`set_quotas` (answered with Nova's own answer) writes it in the web process.
"""

from __future__ import annotations

import pytest
from waldur_api_client.api.openstack_tenants import (
    openstack_tenants_pull_quotas,
    openstack_tenants_retrieve,
    openstack_tenants_set_quotas,
)
from waldur_api_client.client import AuthenticatedClient
from waldur_api_client.errors import UnexpectedStatus
from waldur_api_client.models import OpenstackTenantsSetQuotasBody, Quota

from tests.clients.conftest import token_of
from tests.workers import wait_for

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def admin_cloud(world, cohort):
    """The world's cloud (in memory, of its own) registered with a cloud admin's credentials."""
    from cohort.structure.models import ServiceSettings

    cloud = ServiceSettings.objects.get(pk=world.cloud.pk)
    cloud.credentials = {"token": "admin:admin"}
    cloud.save()
    return cohort


def client_of(live, user) -> AuthenticatedClient:
    return AuthenticatedClient(base_url=live.url, token=token_of(user))


def limits(client, world) -> dict[str, object]:
    tenant = openstack_tenants_retrieve.sync(uuid=world.tenant.uuid, client=client)
    assert all(isinstance(quota, Quota) for quota in tenant.quotas)
    return {quota.name: quota.limit for quota in tenant.quotas}


def test_retrieve_parses_quotas_and_pull_quotas_reads_them(admin_cloud, world):
    with client_of(admin_cloud, world.users.manager) as client:
        assert limits(client, world) == {"server_group_count": None, "server_group_member_count": None}

        accepted = openstack_tenants_pull_quotas.sync_detailed(uuid=world.tenant.uuid, client=client)

        assert accepted.status_code == 202 and accepted.parsed.status
        pulled = wait_for(lambda: limits(client, world)["server_group_count"] is not None, "the quota pull")
        assert pulled
        assert limits(client, world) == {"server_group_count": 10, "server_group_member_count": 10}  # Nova's defaults


def test_set_quotas_with_the_clients_body_and_its_refusal(admin_cloud, world):
    body = OpenstackTenantsSetQuotasBody()
    body["server_group_count"] = 3
    body["server_group_member_count"] = -1
    with client_of(admin_cloud, world.users.staff) as client:
        status = openstack_tenants_set_quotas.sync(uuid=world.tenant.uuid, client=client, body=body)

        assert status.status
        assert status.additional_properties["quotas"][0] == {"name": "server_group_count", "limit": 3, "usage": 0}
        assert limits(client, world) == {"server_group_count": 3, "server_group_member_count": -1}

    bad = OpenstackTenantsSetQuotasBody()
    bad["server_group_count"] = -2
    with client_of(admin_cloud, world.users.owner) as owner, pytest.raises(UnexpectedStatus) as refused:
        openstack_tenants_set_quotas.sync(uuid=world.tenant.uuid, client=owner, body=bad)
    assert refused.value.status_code == 403  # staff only, judged before the body
