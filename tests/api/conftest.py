"""Fixtures of the API contract tests, on top of `world` and `api` from `tests/conftest.py`."""

from types import SimpleNamespace

import pytest

from tests.conftest import make_group, make_tenant


@pytest.fixture
def globex_only(world):
    """Things of globex that no acme role may see: a private cloud, a tenant there, a group and a server."""
    from cohort.openstack.models import Instance
    from cohort.structure.models import ServiceSettings

    cloud = ServiceSettings.objects.create(
        name="globex cloud", auth_url="memory://globex", auth_type="admin_token", customer=world.globex
    )
    tenant = make_tenant("globex-private", world.other, cloud)
    group = make_group(world.other_tenant, "globex-group")
    private_group = make_group(tenant, "globex-private-group")
    server = Instance.objects.create(tenant=world.other_tenant, server_group=group, name="gx-1", backend_id="gx-1")
    return SimpleNamespace(cloud=cloud, tenant=tenant, group=group, private_group=private_group, server=server)
