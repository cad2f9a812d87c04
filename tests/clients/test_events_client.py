"""The published client's event log calls (`events_list`, `events_count`, `events_retrieve` of
`waldur-api-client` 8.1.3) against a live Cohort: gunicorn and a worker, over real HTTP.

An event is addressed by its uuid here (the reference's integer id never leaves Cohort's database):
the client's `events_retrieve` puts whatever `id` it is given in the path, so its uuid works unchanged.
"""

from __future__ import annotations

import pytest
from waldur_api_client.api.events import events_count, events_list, events_retrieve
from waldur_api_client.api.openstack_tenants import openstack_tenants_create_server_group
from waldur_api_client.client import AuthenticatedClient
from waldur_api_client.errors import UnexpectedStatus
from waldur_api_client.models import BackendResourceReqOEnum, Event, EventFieldEnum, OpenStackServerGroupRequest

from tests.clients.conftest import token_of
from tests.clients.test_waldur_client import settled

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]

CREATION = ["resource_creation_scheduled", "openstack_server_group_created", "resource_creation_succeeded"]


def test_a_groups_creation_events_in_order_counted_and_hidden_from_a_foreign_user(cohort, world):
    with AuthenticatedClient(base_url=cohort.url, token=token_of(world.users.manager)) as manager:
        body = OpenStackServerGroupRequest(name="logged")
        created = openstack_tenants_create_server_group.sync(uuid=world.tenant.uuid, client=manager, body=body)
        settled(manager, created.uuid)
        scope = f"{cohort.url}/api/openstack-server-groups/{created.uuid.hex}/"
        oldest_first = [BackendResourceReqOEnum.CREATED]

        events = events_list.sync(client=manager, scope=scope, o=oldest_first)
        assert all(isinstance(event, Event) for event in events)
        assert [event.event_type for event in events] == CREATION
        assert [event.created for event in events] == sorted(event.created for event in events)
        assert events[0].context["user_username"] == "manager"
        assert {event.context["resource_uuid"] for event in events} == {created.uuid.hex}
        assert events_count.sync(client=manager, scope=scope) == len(CREATION)
        assert events_count.sync(client=manager, scope=scope, event_type=CREATION[:2]) == 2

        newest = events_list.sync(client=manager, scope=scope, field=[EventFieldEnum.EVENT_TYPE])
        assert [event.event_type for event in newest] == CREATION[::-1]  # the default: newest first
        one = events_retrieve.sync(id=events[0].uuid.hex, client=manager)
        assert (one.uuid, one.event_type, one.message) == (events[0].uuid, events[0].event_type, events[0].message)

    globex_owner = world.users.stranger
    from cohort.structure.models import CustomerRole

    CustomerRole.objects.create(customer=world.globex, user=globex_owner, role="owner")
    with AuthenticatedClient(base_url=cohort.url, token=token_of(globex_owner)) as foreign:
        assert events_list.sync(client=foreign, scope=scope) == []
        assert events_count.sync(client=foreign, scope=scope) == 0
        everything = events_list.sync(client=foreign, page_size=300)
        assert not {event.uuid for event in everything} & {event.uuid for event in events}
        for event in events:
            with pytest.raises(UnexpectedStatus) as refused:
                events_retrieve.sync(id=event.uuid.hex, client=foreign)
            assert refused.value.status_code == 404
