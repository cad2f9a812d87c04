"""The server group on the wire (CONTRACT sections 2 and 7), declared once.

`SERVER_GROUP` lists every key of the object in the contract's order (the reference's keys, then
Cohort's own): where its value comes from and how the OpenAPI schema documents it. The SQL columns,
the renderer, `?field=` and the `OpenStackServerGroup` component all follow from it
(`cohort.core.shapes`), so a key is added here and nowhere else. Every response that carries a
server group (list, retrieve, create, update) is built by `server_group_objects`: a page of 300
groups costs two queries (beside the one that picks the page), no model instances and no
serializers.
"""

from __future__ import annotations

from collections.abc import Iterable

from rest_framework import serializers

from cohort.core.rows import wire_datetime, wire_json, wire_uuid
from cohort.core.shapes import Column, Constant, Key, Nested, Shape, Template, objects, read_only
from cohort.core.states import State
from cohort.openstack.api.serializers import POLICY_HELP, RulesField
from cohort.openstack.models import Instance, ServerGroup

state_label = {state.value: state.label for state in State}.__getitem__  # a C call, cheaper than a function

TEXT = read_only()
URI = read_only(serializers.URLField)
UUID = read_only(serializers.UUIDField)
DATETIME = read_only(serializers.DateTimeField)
NULL_TEXT = read_only(allow_null=True)
NULL_OBJECT = read_only(serializers.DictField, allow_null=True)
NULL_BOOLEAN = read_only(serializers.BooleanField, allow_null=True)

PLACEMENT_HELP = (
    "Whether the members' hosts honour the policy, as of the last pull: empty (no members), pending (a member "
    "is being built), satisfied, violated (a hard policy broken), degraded (a soft policy not honoured). "
    "GET .../placement/ tells where each member is."
)

MEMBER = Shape(
    model=Instance,
    component="OpenStackNestedInstance",
    keys=(
        Key("backend_id", Column("backend_id"), read_only(help_text="Instance ID in the OpenStack backend")),
        Key("name", Column("name"), TEXT),
        Key("uuid", Column("uuid", wire_uuid), UUID),
    ),
)

SERVER_GROUP = Shape(
    model=ServerGroup,
    component="OpenStackServerGroup",
    description="A server group as answered. `?field=` may leave any key out, so none is required.",
    keys=(
        Key("url", Template("{api}openstack-server-groups/{uuid}/"), URI),
        Key("uuid", Column("uuid", wire_uuid), UUID),
        Key("name", Column("name"), TEXT),
        Key("description", Column("description"), TEXT),
        Key("service_name", Column("tenant__service_settings__name"), TEXT),
        Key("service_settings", Template("{api}service-settings/{service_settings_uuid}/"), URI),
        Key("service_settings_uuid", Column("tenant__service_settings__uuid", wire_uuid), UUID),
        Key("service_settings_state", Column("tenant__service_settings__state", state_label), TEXT),
        Key("service_settings_error_message", Column("tenant__service_settings__error_message"), TEXT),
        Key("project", Template("{api}projects/{project_uuid}/"), URI),
        Key("project_name", Column("tenant__project__name"), TEXT),
        Key("project_uuid", Column("tenant__project__uuid", wire_uuid), UUID),
        Key("customer", Template("{api}customers/{customer_uuid}/"), URI),
        Key("customer_uuid", Column("tenant__project__customer__uuid", wire_uuid), UUID),
        Key("customer_name", Column("tenant__project__customer__name"), TEXT),
        Key("customer_native_name", Column("tenant__project__customer__native_name"), TEXT),
        Key("customer_abbreviation", Column("tenant__project__customer__abbreviation"), TEXT),
        Key("error_message", Column("error_message"), TEXT),
        Key("error_traceback", Column("error_traceback"), TEXT),
        Key("resource_type", Constant("OpenStack.ServerGroup"), TEXT),
        Key("state", Column("state"), read_only(serializers.ChoiceField, choices=State.choices)),
        Key("created", Column("created", wire_datetime), DATETIME),
        Key("modified", Column("modified", wire_datetime), DATETIME),
        Key("backend_id", Column("backend_id"), TEXT),
        Key("access_url", Constant(None), NULL_TEXT),
        Key("tenant", Template("{api}openstack-tenants/{tenant_uuid}/"), URI),
        Key("tenant_name", Column("tenant__name"), TEXT),
        Key("tenant_uuid", Column("tenant__uuid", wire_uuid), UUID),
        Key(
            "policy",
            Column("policy"),
            read_only(serializers.ChoiceField, choices=ServerGroup.Policy.choices, help_text=POLICY_HELP),
        ),
        Key("display_name", Template("Name: {name}, Policy: {policy}"), TEXT),
        Key("instances", Nested(MEMBER, via="server_group_id", order_by=("name", "id"))),
        Key("marketplace_offering_uuid", Constant(None), NULL_TEXT),
        Key("marketplace_offering_name", Constant(None), NULL_TEXT),
        Key("marketplace_offering_type", Constant(None), NULL_TEXT),
        Key("marketplace_offering_plugin_options", Constant(None), NULL_OBJECT),
        Key("marketplace_category_uuid", Constant(None), NULL_TEXT),
        Key("marketplace_category_name", Constant(None), NULL_TEXT),
        Key("marketplace_resource_uuid", Constant(None), NULL_TEXT),
        Key("marketplace_plan_uuid", Constant(None), NULL_TEXT),
        Key("marketplace_resource_state", Constant(None), NULL_TEXT),
        Key("is_usage_based", Constant(None), NULL_BOOLEAN),
        Key("is_limit_based", Constant(None), NULL_BOOLEAN),
        # Cohort's own keys (CONTRACT section 7) come after the reference's
        Key(
            "rules",
            Column("rules", wire_json),
            read_only(RulesField, help_text="Nova's rules; {} when there are none."),
        ),
        Key(
            "placement_status",
            Column("placement_status"),
            read_only(serializers.ChoiceField, choices=ServerGroup.PlacementStatus.choices, help_text=PLACEMENT_HELP),
        ),
    ),
)


def server_group_objects(ids: list[int], api_root: str, fields: Iterable[str] = ()) -> list[dict]:
    """The response objects of the groups with primary keys `ids`, in that order: two queries whatever
    their number. `api_root` is the absolute URL of `/api/`; `fields` are the `?field=` values."""
    return objects(SERVER_GROUP, ids, api_root, fields)
