"""A tenant pull of many groups and servers: statements in batches, nothing written that did not change,
and the events of a pull written together (or not at all).

`bench/tenant_pull.py` measures the same at 5,000 groups and 20,000 servers.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cohort.cloud.memory import UNLIMITED
from cohort.events.models import Event
from cohort.openstack import reconcile
from cohort.openstack.models import Instance, ServerGroup
from tests.conftest import memory_project


def fill(tenant, groups: int, members: int = 2) -> None:
    """`groups` groups made in Nova behind Cohort's back, each with `members` servers booted into it."""
    from cohort.cloud.memory import MemoryDriver

    project = memory_project(tenant)
    project.quota = UNLIMITED
    driver = MemoryDriver(tenant.cloud_access())
    for i in range(groups):
        group = driver.create_server_group(name=f"g-{i:04d}", policy="soft-anti-affinity")
        for k in range(members):
            project.boot_server(f"vm-{i:04d}-{k}", group.id)


def pull_queries(tenant) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert reconcile.pull_tenant(tenant.pk)
    return len(queries)


def test_a_pull_costs_a_few_statements_per_thousand_rows_not_one_per_row(world):
    fill(world.tenant, 400)  # 400 groups, 800 servers: 1,200 records and 1,200 events to write
    first = pull_queries(world.tenant)
    assert ServerGroup.objects.filter(tenant=world.tenant).count() == 400
    assert Instance.objects.filter(tenant=world.tenant, server_group__isnull=False).count() == 800
    assert Event.objects.filter(event_type="openstack_server_group_imported").count() == 400
    assert first < 60, first  # SQLite's bulk statements take 90 rows at most; PostgreSQL's 1,000

    fill(world.other_tenant, 20)
    pull_queries(world.other_tenant)  # its first
    small, large = pull_queries(world.other_tenant), pull_queries(world.tenant)
    assert small == large, (small, large)  # nothing changed: the same statements for 20 groups as for 400


def test_a_pull_with_nothing_changed_writes_only_when_it_looked(world):
    fill(world.tenant, 30)
    reconcile.pull_tenant(world.tenant.pk)
    groups = dict(ServerGroup.objects.values_list("pk", "modified"))
    instances = dict(Instance.objects.values_list("pk", "modified"))
    seen = set(Instance.objects.values_list("seen_at", flat=True))
    checked = set(ServerGroup.objects.values_list("placement_checked_at", flat=True))
    events = Event.objects.count()

    reconcile.pull_tenant(world.tenant.pk)

    assert dict(ServerGroup.objects.values_list("pk", "modified")) == groups
    assert dict(Instance.objects.values_list("pk", "modified")) == instances
    assert Event.objects.count() == events
    assert set(Instance.objects.values_list("seen_at", flat=True)).isdisjoint(seen)  # seen again, now
    assert set(ServerGroup.objects.values_list("placement_checked_at", flat=True)).isdisjoint(checked)


def test_a_change_in_nova_is_written_and_only_it(world):
    fill(world.tenant, 5)
    reconcile.pull_tenant(world.tenant.pk)
    project = memory_project(world.tenant)
    moved = next(iter(project.servers.values()))
    moved.host = "host3" if moved.host != "host3" else "host2"
    before = dict(Instance.objects.values_list("backend_id", "modified"))

    reconcile.pull_tenant(world.tenant.pk)

    after = dict(Instance.objects.values_list("backend_id", "modified"))
    assert [backend_id for backend_id in after if after[backend_id] != before[backend_id]] == [moved.id]
    assert Instance.objects.get(backend_id=moved.id).host_id == project.host_id(moved.host)


def test_the_events_of_a_pull_are_written_with_it_or_not_at_all(world, monkeypatch):
    fill(world.tenant, 3)

    def refuse(*args, **kwargs):
        raise RuntimeError("the event table is gone")

    monkeypatch.setattr(Event.objects, "bulk_create", refuse)
    with pytest.raises(RuntimeError):
        reconcile.pull_tenant(world.tenant.pk)
    assert not ServerGroup.objects.filter(tenant=world.tenant).exists()
    assert not Instance.objects.filter(tenant=world.tenant).exists()

    monkeypatch.undo()
    reconcile.pull_tenant(world.tenant.pk)
    assert ServerGroup.objects.filter(tenant=world.tenant).count() == 3
    assert Event.objects.filter(event_type="openstack_server_group_imported").count() == 3
