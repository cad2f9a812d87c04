"""The rules of a server group live in its services, whichever caller (API, admin, web page) uses them."""

import pytest

from cohort.core.errors import Invalid
from cohort.core.states import State
from cohort.openstack import services
from cohort.openstack.models import ServerGroup
from tests.conftest import make_group


def test_rules_need_anti_affinity_on_create(world):
    with pytest.raises(Invalid) as refused:
        services.server_group_create(tenant=world.tenant, name="g", policy="affinity", rules={"max_server_per_host": 2})
    assert (refused.value.field, refused.value.message) == ("rules", services.RULES_NEED_ANTI_AFFINITY)
    with pytest.raises(Invalid):
        services.server_group_create(tenant=world.tenant, name="g", rules={"max_server_per_host": 2})  # default
    assert not ServerGroup.objects.exists()


def test_rules_need_anti_affinity_on_update(world):
    group = make_group(world.tenant, "g", policy="anti-affinity", rules={"max_server_per_host": 2})
    with pytest.raises(Invalid):
        services.server_group_update(group=group, rules={"max_server_per_host": 3}, policy="soft-affinity")
    services.server_group_update(group=group, policy="soft-affinity")  # rules it cannot keep are dropped
    group.refresh_from_db()
    assert (group.policy, group.rules, group.state) == ("soft-affinity", {}, State.UPDATE_SCHEDULED)


def test_the_default_policy_is_the_models(world):
    group = services.server_group_create(tenant=world.tenant, name="g")
    assert group.policy == ServerGroup._meta.get_field("policy").default == "affinity"


def test_a_taken_name_is_recognised_by_its_constraint_and_answered_with_its_message(world):
    make_group(world.tenant, "taken")
    with pytest.raises(Invalid) as refused:
        services.server_group_create(tenant=world.tenant, name="taken")
    assert (refused.value.field, refused.value.message) == ("non_field_errors", "Server group name should be unique.")
    services.server_group_create(tenant=world.other_tenant, name="taken")  # unique per tenant only


def test_a_create_reads_its_tenant_once_with_what_its_event_names(world, django_assert_max_num_queries):
    """On the way from a create to its message: the tenant locked with its project and customer (which
    the event names), the insert inside a savepoint, the event (7, with the outer savepoint)."""
    with django_assert_max_num_queries(7):
        services.server_group_create(tenant=world.tenant, name="counted")
