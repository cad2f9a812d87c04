"""The published Python client (`waldur-api-client` 8.1.3) against a live Cohort.

Every server-group operation the client has is called through the client's own functions, over real
HTTP, with a real worker behind the server; every answer must parse into the client's models (the
client raises on any status it does not expect, and its models raise on any value they cannot take).
PUT and PATCH, which 8.1.3 no longer has but clients up to 8.0.2 sent, go through the client's own
httpx client with the client's request model as the body.
"""

from __future__ import annotations

import json
import uuid
from urllib.parse import parse_qsl, urlsplit

import attrs
import pytest
from waldur_api_client.api.openstack_server_groups import (
    openstack_server_groups_count,
    openstack_server_groups_create,
    openstack_server_groups_destroy,
    openstack_server_groups_list,
    openstack_server_groups_pull,
    openstack_server_groups_retrieve,
    openstack_server_groups_set_erred,
    openstack_server_groups_set_ok,
    openstack_server_groups_unlink,
)
from waldur_api_client.api.openstack_tenants import (
    openstack_tenants_create_server_group,
    openstack_tenants_pull_server_groups,
)
from waldur_api_client.client import AuthenticatedClient
from waldur_api_client.errors import UnexpectedStatus
from waldur_api_client.models import (
    CoreStates,
    OpenStackServerGroup,
    OpenStackServerGroupFieldEnum,
    OpenStackServerGroupRequest,
    PolicyEnum,
    SetErredRequest,
)
from waldur_api_client.types import UNSET

from tests.clients.conftest import token_of
from tests.conftest import make_group
from tests.workers import wait_for

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]

# Keys the reference does not have; the client keeps them in `additional_properties`.
EXTENSIONS = {"rules", "placement_status"}


@pytest.fixture
def requests_sent() -> list:
    return []


@pytest.fixture
def client(cohort, token, requests_sent) -> AuthenticatedClient:
    """The staff user's client, recording the URL of every request it sends."""
    hooks = {"request": [lambda request: requests_sent.append(request.url)]}
    with AuthenticatedClient(base_url=cohort.url, token=token, httpx_args={"event_hooks": hooks}) as client:
        yield client


def assert_full_group(group: OpenStackServerGroup) -> OpenStackServerGroup:
    """A parsed group with every key of the reference (none left UNSET) and no unknown key but ours."""
    assert isinstance(group, OpenStackServerGroup)
    unset = [field.name for field in attrs.fields(OpenStackServerGroup) if getattr(group, field.name) is UNSET]
    assert not unset, f"keys missing from the response: {unset}"
    assert set(group.additional_properties) == EXTENSIONS, group.additional_properties
    assert isinstance(group.state, CoreStates) and isinstance(group.policy, PolicyEnum)
    return group


def settled(client, group_uuid, state: CoreStates = CoreStates.OK) -> OpenStackServerGroup:
    def reached():
        group = openstack_server_groups_retrieve.sync(uuid=group_uuid, client=client)
        return group if group.state == state else None

    return assert_full_group(wait_for(reached, f"group {group_uuid} to reach {state.value}"))


def gone(client, group_uuid) -> bool:
    try:
        openstack_server_groups_retrieve.sync(uuid=group_uuid, client=client)
    except UnexpectedStatus as error:
        return error.status_code == 404
    return False


def create_in_tenant(client, world, name: str, **fields) -> OpenStackServerGroup:
    body = OpenStackServerGroupRequest(name=name, **fields)
    return openstack_tenants_create_server_group.sync(uuid=world.tenant.uuid, client=client, body=body)


# --- create, by both routes, and the worker's part ----------------------------------------------------------


def test_create_through_the_tenant_action(client, world):
    body = OpenStackServerGroupRequest(name="web", description="front", policy=PolicyEnum.ANTI_AFFINITY)
    created = assert_full_group(
        openstack_tenants_create_server_group.sync(uuid=world.tenant.uuid, client=client, body=body)
    )
    assert (created.state, created.backend_id, created.tenant_uuid) == (
        CoreStates.CREATION_SCHEDULED,
        "",
        world.tenant.uuid,
    )
    assert created.display_name == "Name: web, Policy: anti-affinity"
    group = settled(client, created.uuid)
    assert group.backend_id and group.error_message == "" and group.policy == PolicyEnum.ANTI_AFFINITY


@pytest.mark.parametrize("reference", ["url", "uuid"])
def test_create_through_the_collection_with_the_tenant_as_an_extra_key(client, world, cohort, reference):
    body = OpenStackServerGroupRequest(name="db", policy=PolicyEnum.SOFT_AFFINITY)
    tenant_url = f"{cohort.url}/api/openstack-tenants/{world.tenant.uuid.hex}/"
    body.additional_properties["tenant"] = tenant_url if reference == "url" else str(world.tenant.uuid)
    created = assert_full_group(openstack_server_groups_create.sync(client=client, body=body))
    assert created.state == CoreStates.CREATION_SCHEDULED and created.tenant == tenant_url
    assert settled(client, created.uuid).policy == PolicyEnum.SOFT_AFFINITY


def test_a_manager_creates_with_the_default_policy(cohort, world):
    with AuthenticatedClient(base_url=cohort.url, token=token_of(world.users.manager)) as manager:
        created = openstack_server_groups_create.sync(client=manager, body=OpenStackServerGroupRequest(name="x"))
        assert created.policy == PolicyEnum.AFFINITY  # the manager's only tenant is used
        assert settled(manager, created.uuid).backend_id


def test_a_refused_create_raises_the_clients_error_with_the_reason(client, world):
    create_in_tenant(client, world, "twin")
    with pytest.raises(UnexpectedStatus) as refused:
        create_in_tenant(client, world, "twin")
    assert refused.value.status_code == 400 and b"unique" in refused.value.content


# --- reading: retrieve, list, filters, field, count, sync_all ---------------------------------------------


def test_retrieve_and_list_parse_every_key(client, world):
    group = settled(client, create_in_tenant(client, world, "g").uuid)
    listed = openstack_server_groups_list.sync(client=client)
    assert [item.uuid for item in listed] == [group.uuid]
    assert assert_full_group(listed[0]).to_dict() == group.to_dict()


def test_state_filter_sends_repeated_keys_and_the_server_honours_all(client, world, requests_sent):
    make_group(world.tenant, "ok")
    make_group(world.tenant, "erred", state="ERRED", error_message="boom")
    both = openstack_server_groups_list.sync(client=client, state=[CoreStates.OK, CoreStates.ERRED])
    only_erred = openstack_server_groups_list.sync(client=client, state=[CoreStates.ERRED])
    assert sorted(group.name for group in both) == ["erred", "ok"]
    assert [group.name for group in only_erred] == ["erred"]
    assert only_erred[0].error_message == "boom"
    sent = parse_qsl(urlsplit(str(requests_sent[0])).query)
    assert [value for key, value in sent if key == "state"] == ["OK", "ERRED"]


def test_field_sends_repeated_keys_and_limits_the_objects(client, world, requests_sent):
    group = make_group(world.tenant, "g")
    wanted = [OpenStackServerGroupFieldEnum.NAME, OpenStackServerGroupFieldEnum.STATE]
    listed = openstack_server_groups_list.sync_detailed(client=client, field=wanted)
    retrieved = openstack_server_groups_retrieve.sync_detailed(uuid=group.uuid, client=client, field=wanted)
    assert json.loads(listed.content) == [{"name": "g", "state": "OK"}]
    assert json.loads(retrieved.content) == {"name": "g", "state": "OK"}
    for parsed in (listed.parsed[0], retrieved.parsed):
        assert (parsed.name, parsed.state, parsed.uuid) == ("g", CoreStates.OK, UNSET)
    sent = parse_qsl(urlsplit(str(requests_sent[0])).query)
    assert [value for key, value in sent if key == "field"] == ["name", "state"]


def test_filters_of_the_client_are_honoured(client, world, cohort):
    make_group(world.tenant, "alpha", description="first")
    make_group(world.other_tenant, "beta")
    by = {
        "name": "alp",
        "name_exact": "alpha",
        "description": "firs",
        "tenant_uuid": world.tenant.uuid,
        "tenant": f"{cohort.url}/api/openstack-tenants/{world.tenant.uuid.hex}/",
        "project": world.web.uuid,
        "project_uuid": world.web.uuid,
        "project_name": "we",
        "customer": world.acme.uuid,
        "customer_uuid": world.acme.uuid,
        "customer_name": "acm",
        "customer_native_name": "acme l",
        "customer_abbreviation": "acm",
        "backend_id": "nova-alpha",
    }
    for name, value in by.items():
        found = openstack_server_groups_list.sync(client=client, **{name: value})
        assert [group.name for group in found] == ["alpha"], name
    for name, value in {"service_settings_name": "test cl", "service_settings_uuid": world.cloud.uuid}.items():
        assert len(openstack_server_groups_list.sync(client=client, **{name: value})) == 2, name
    assert openstack_server_groups_list.sync(client=client, external_ip="10.0.0.1") == []


def test_can_manage_filter(cohort, world):
    make_group(world.tenant, "alpha")
    with AuthenticatedClient(base_url=cohort.url, token=token_of(world.users.member)) as member:
        assert [g.name for g in openstack_server_groups_list.sync(client=member, can_manage=False)] == ["alpha"]
        assert openstack_server_groups_list.sync(client=member, can_manage=True) == []
    with AuthenticatedClient(base_url=cohort.url, token=token_of(world.users.owner)) as owner:
        assert [g.name for g in openstack_server_groups_list.sync(client=owner, can_manage=True)] == ["alpha"]


def test_count_uses_head_and_honours_filters(client, world):
    for index in range(3):
        make_group(world.tenant, f"ok-{index}")
    make_group(world.tenant, "erred", state="ERRED")
    assert openstack_server_groups_count.sync(client=client) == 4
    assert openstack_server_groups_count.sync(client=client, state=[CoreStates.ERRED]) == 1
    assert openstack_server_groups_count.sync(client=client, state=[CoreStates.OK, CoreStates.ERRED]) == 4
    detailed = openstack_server_groups_count.sync_detailed(client=client, page_size=2)
    assert detailed.content == b"" and 'rel="next"' in detailed.headers["link"]


def test_sync_all_follows_the_link_header_over_every_page(client, world):
    from cohort.openstack.models import ServerGroup

    ServerGroup.objects.bulk_create(
        ServerGroup(tenant=world.tenant, name=f"bulk-{index:03}", state="OK", backend_id=f"b{index}")
        for index in range(230)
    )
    make_group(world.other_tenant, "other")
    everything = openstack_server_groups_list.sync_all(client=client)
    assert len(everything) == 231 == len({group.uuid for group in everything})
    filtered = openstack_server_groups_list.sync_all(client=client, tenant_uuid=world.tenant.uuid)
    assert sorted(group.name for group in filtered) == [f"bulk-{index:03}" for index in range(230)]
    assert openstack_server_groups_count.sync(client=client, tenant_uuid=world.tenant.uuid) == 230


# --- changing: PUT and PATCH as clients up to 8.0.2 send them ----------------------------------------------


def test_put_and_patch_as_older_clients_send_them(client, world):
    group = settled(client, create_in_tenant(client, world, "g", policy=PolicyEnum.AFFINITY).uuid)
    http = client.get_httpx_client()
    path = f"/api/openstack-server-groups/{group.uuid}/"

    put = http.put(path, json=OpenStackServerGroupRequest(name="renamed", description="d").to_dict())
    assert put.status_code == 200, put.text
    renamed = assert_full_group(OpenStackServerGroup.from_dict(put.json()))
    assert (renamed.name, renamed.description, renamed.state) == ("renamed", "d", CoreStates.OK)

    patch = http.patch(path, json={"description": "patched"})
    assert patch.status_code == 200, patch.text
    assert assert_full_group(OpenStackServerGroup.from_dict(patch.json())).description == "patched"

    repolicy = http.patch(path, json={"policy": "soft-anti-affinity"})
    assert repolicy.status_code == 200, repolicy.text
    assert OpenStackServerGroup.from_dict(repolicy.json()).state == CoreStates.UPDATE_SCHEDULED
    replaced = settled(client, group.uuid)
    assert replaced.policy == PolicyEnum.SOFT_ANTI_AFFINITY and replaced.backend_id != group.backend_id


# --- actions: pull, set_erred, set_ok, unlink, tenant pull, destroy ----------------------------------------


def test_pull_is_202_and_a_pull_that_cannot_run_is_409_detail(client, world):
    group = settled(client, create_in_tenant(client, world, "g").uuid)
    accepted = openstack_server_groups_pull.sync_detailed(uuid=group.uuid, client=client)
    assert accepted.status_code == 202 and accepted.parsed.detail
    assert settled(client, group.uuid).backend_id == group.backend_id

    no_backend = make_group(world.tenant, "no-backend", state="ERRED", backend_id="")
    refused = openstack_server_groups_pull.sync_detailed(uuid=no_backend.uuid, client=client)
    assert refused.status_code == 409 and refused.parsed.detail


def test_set_erred_then_set_ok(client, world):
    group = settled(client, create_in_tenant(client, world, "g").uuid)
    body = SetErredRequest(error_message="stuck", error_traceback="trace")
    assert openstack_server_groups_set_erred.sync(uuid=group.uuid, client=client, body=body).detail
    erred = settled(client, group.uuid, CoreStates.ERRED)
    assert (erred.error_message, erred.error_traceback) == ("stuck", "trace")

    assert openstack_server_groups_set_ok.sync(uuid=group.uuid, client=client).detail
    ok = settled(client, group.uuid)
    assert (ok.error_message, ok.error_traceback) == ("", "")


def test_unlink_forgets_the_record_and_a_tenant_pull_brings_the_group_back(client, world):
    group = settled(client, create_in_tenant(client, world, "kept-in-nova").uuid)
    unlinked = openstack_server_groups_unlink.sync_detailed(uuid=group.uuid, client=client)
    assert unlinked.status_code == 204 and unlinked.content == b""
    assert gone(client, group.uuid)

    status = openstack_tenants_pull_server_groups.sync(uuid=world.tenant.uuid, client=client)
    assert status.status

    def imported():
        found = openstack_server_groups_list.sync(client=client, backend_id=group.backend_id)
        return found[0] if found else None

    back = assert_full_group(wait_for(imported, "the tenant pull to import the group"))
    assert (back.name, back.state) == ("kept-in-nova", CoreStates.OK) and back.uuid != group.uuid


def test_destroy_is_204_and_the_worker_removes_the_group(client, world):
    group = settled(client, create_in_tenant(client, world, "doomed").uuid)
    deleted = openstack_server_groups_destroy.sync_detailed(uuid=group.uuid, client=client)
    assert deleted.status_code == 204 and deleted.content == b""
    wait_for(lambda: gone(client, group.uuid), "the group to be deleted")


def test_an_invisible_group_is_the_clients_404(cohort, world):
    group = make_group(world.tenant, "private")
    with AuthenticatedClient(base_url=cohort.url, token=token_of(world.users.stranger)) as stranger:
        for call in (openstack_server_groups_retrieve, openstack_server_groups_pull, openstack_server_groups_destroy):
            with pytest.raises(UnexpectedStatus) as refused:
                call.sync_detailed(uuid=group.uuid, client=stranger)
            assert refused.value.status_code == 404
        assert openstack_server_groups_list.sync(client=stranger) == []


def test_hex_and_dashed_uuids_reach_the_same_group(client, world):
    group = make_group(world.tenant, "g")
    for form in (group.uuid.hex, str(group.uuid), uuid.UUID(group.uuid.hex)):
        assert openstack_server_groups_retrieve.sync(uuid=form, client=client).uuid == group.uuid
