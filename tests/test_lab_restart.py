"""The lab remembers: stopped and started again on the same state directory, it still holds the
groups and servers made before, on the same hosts, and Cohort's records of them stay true.

Cohort is registered as `cohort serve` registers it (the demo records): after the restart the lab's
Keystone listens on another port and the demo user has a new password, which the registration
follows; the tenant's project, the groups' and servers' Nova ids and their host ids do not change, and
a pull of the tenant changes no record. A reset leaves no database or key behind.
"""

import pytest

import cohort_lab
from cohort.cloud.openstack import OpenStackDriver
from cohort.core.states import State
from cohort.embedded import demo
from cohort.openstack.models import Instance, ServerGroup

pytestmark = [
    pytest.mark.skipif(not cohort_lab.nova_installed(), reason="needs the `lab` extra (pip install -e '.[lab]')"),
    pytest.mark.slow,
]

START_TIMEOUT = 240.0  # two starts on a shared, loaded machine


def snapshot(tenant):
    groups = ServerGroup.objects.filter(tenant=tenant).order_by("name")
    instances = Instance.objects.filter(tenant=tenant).order_by("backend_id")
    return (
        [(g.uuid, g.name, g.state, g.backend_id, g.policy) for g in groups],
        [(i.backend_id, i.server_group.backend_id, i.host_id, i.status) for i in instances],
    )


def test_groups_servers_and_records_survive_a_restart_and_reset_empties(
    tmp_path, world, api, settings, django_capture_on_commit_callbacks
):
    settings.CLOUD_DRIVER = "cohort.cloud.openstack.OpenStackDriver"
    capture, owner = django_capture_on_commit_callbacks, world.users.staff
    state = tmp_path / "lab"

    with cohort_lab.start_lab(state, timeout=START_TIMEOUT) as lab:
        records = demo.bootstrap(lab.tenant(demo.DEMO_PROJECT))
        tenant = records["tenant"]
        project_id = tenant.backend_id
        made = []
        for name, policy in (("spread", "anti-affinity"), ("pack", "affinity")):
            with capture(execute=True):
                url = f"/api/openstack-tenants/{tenant.uuid.hex}/create_server_group/"
                response = api(owner).post(url, {"name": name, "policy": policy}, format="json")
            assert response.status_code == 201, response.content
            made.append(ServerGroup.objects.get(uuid=response.json()["uuid"]))
        for group in made:
            for n in range(2):
                cohort_lab.boot_server(tenant.cloud_access(), f"{group.name}-{n}", group.backend_id)
        with capture(execute=True):
            assert api(owner).post(f"/api/openstack-tenants/{tenant.uuid.hex}/pull_server_groups/").status_code == 202
        before = snapshot(tenant)
        hosts = {host for *_, host, _ in before[1]}
        assert len(before[0]) == 2 and len(before[1]) == 4 and len(hosts) == 3  # spread on two, pack on one
        assert {status for *_, status in before[1]} == {"ACTIVE"}

    with cohort_lab.start_lab(state, timeout=START_TIMEOUT) as lab:
        records = demo.bootstrap(lab.tenant(demo.DEMO_PROJECT))  # as serve does on every start
        tenant.refresh_from_db()
        assert tenant.backend_id == project_id
        driver = OpenStackDriver(tenant.cloud_access())
        assert {g.id for g in driver.list_server_groups()} == {g[3] for g in before[0]}
        servers = {s.id: (s.host_id, s.status) for s in driver.list_servers()}
        assert servers == {backend_id: (host, status) for backend_id, _, host, status in before[1]}

        with capture(execute=True):
            assert api(owner).post(f"/api/openstack-tenants/{tenant.uuid.hex}/pull_server_groups/").status_code == 202
        assert snapshot(tenant) == before, "a pull after the restart changed Cohort's records"
        assert set(ServerGroup.objects.filter(tenant=tenant).values_list("state", flat=True)) == {State.OK}

        spread = next(g for g in before[0] if g[1] == "spread")[3]
        spread_hosts = {host for _, group_id, host, _ in before[1] if group_id == spread}
        third = cohort_lab.boot_server(tenant.cloud_access(), "spread-2", spread)
        # anti-affinity still sees the servers the restarted hosts hold: the third goes to the third host
        assert third.status == "ACTIVE" and third.host_id and third.host_id not in spread_hosts

    # `cohort lab --reset` / `serve --reset-lab`: the kept databases and keys go, so the next start is
    # a first start (a new Keystone, an empty Nova), as every other lab of the suite is.
    assert list(state.rglob("*.sqlite")) and list(state.rglob("fernet-keys"))
    cohort_lab.reset_state(state)
    assert not cohort_lab.has_state(state) and cohort_lab.read_stamp(state) == ""
    assert not list(state.rglob("*.sqlite")) and not list(state.rglob("fernet-keys"))
