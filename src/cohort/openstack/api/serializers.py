"""Server groups on the wire: input validation, and the fast output path.

Input goes through DRF serializers (error shapes come free), which also document it: the OpenAPI
request components (`OpenStackServerGroupRequest`, `PatchedOpenStackServerGroupRequest`,
`OpenStackServerGroupCreateRequest`) are generated from them. Output does not: a response object is
built by a plain function from one raw row per group (`cohort.core.rows`) plus one query for all
members of the page: a page of 300 groups costs two queries (beside the one that picks the page), no
model instances and no per-value conversions. Every response that
carries a server group (list, retrieve, create, update) goes through `server_group_objects`, so the
shapes cannot drift apart. The key order is the contract's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from cohort.cloud.names import refused_character
from cohort.core.fields import HexUUIDField, LinkField
from cohort.core.rows import fetch_in, wire_datetime, wire_json, wire_uuid
from cohort.core.states import State
from cohort.openstack.models import Instance, ServerGroup

FIELDS = (
    "url", "uuid", "name", "description", "service_name", "service_settings", "service_settings_uuid",
    "service_settings_state", "service_settings_error_message", "project", "project_name", "project_uuid",
    "customer", "customer_uuid", "customer_name", "customer_native_name", "customer_abbreviation",
    "error_message", "error_traceback", "resource_type", "state", "created", "modified", "backend_id",
    "access_url", "tenant", "tenant_name", "tenant_uuid", "policy", "display_name", "instances",
    "marketplace_offering_uuid", "marketplace_offering_name", "marketplace_offering_type",
    "marketplace_offering_plugin_options", "marketplace_category_uuid", "marketplace_category_name",
    "marketplace_resource_uuid", "marketplace_plan_uuid", "marketplace_resource_state", "is_usage_based",
    "is_limit_based", "rules",
)  # fmt: skip

COLUMNS = (
    "id", "uuid", "name", "description", "state", "error_message", "error_traceback", "created", "modified",
    "backend_id", "policy", "rules", "tenant__uuid", "tenant__name", "tenant__service_settings__uuid",
    "tenant__service_settings__name", "tenant__service_settings__state",
    "tenant__service_settings__error_message", "tenant__project__uuid", "tenant__project__name",
    "tenant__project__customer__uuid", "tenant__project__customer__name",
    "tenant__project__customer__native_name", "tenant__project__customer__abbreviation",
)  # fmt: skip

MEMBER_COLUMNS = ("server_group_id", "backend_id", "name", "uuid")
STATE_LABELS = {state.value: state.label for state in State}


def members_by_group(group_ids: list[int]) -> dict[int, list[dict]]:
    members: dict[int, list[dict]] = defaultdict(list)
    rows = fetch_in(Instance, MEMBER_COLUMNS, "server_group_id", group_ids, order_by=("name", "id"))
    for group_id, backend_id, name, instance_uuid in rows:
        members[group_id].append({"backend_id": backend_id, "name": name, "uuid": wire_uuid(instance_uuid)})
    return members


def server_group_objects(ids: list[int], api_root: str, fields: Iterable[str] = ()) -> list[dict]:
    """The response objects of the groups with primary keys `ids`, in that order: two queries whatever
    their number. `api_root` is the absolute URL of `/api/`."""
    position = {pk: index for index, pk in enumerate(ids)}
    rows = sorted(fetch_in(ServerGroup, COLUMNS, "id", ids), key=lambda row: position[row[0]])
    members = members_by_group(ids)
    objects = [_server_group_object(row, members.get(row[0], []), api_root) for row in rows]
    wanted = [name for name in FIELDS if name in set(fields)]
    if wanted:
        objects = [{name: obj[name] for name in wanted} for obj in objects]
    return objects


def _server_group_object(row: tuple, instances: list[dict], api: str) -> dict:
    (
        pk, group_uuid, name, description, state, error_message, error_traceback, created, modified, backend_id,
        policy, rules, tenant_uuid, tenant_name, settings_uuid, settings_name, settings_state, settings_error,
        project_uuid, project_name, customer_uuid, customer_name, customer_native_name, customer_abbreviation,
    ) = row  # fmt: skip
    group_uuid, tenant_uuid = wire_uuid(group_uuid), wire_uuid(tenant_uuid)
    settings_uuid, project_uuid, customer_uuid = (
        wire_uuid(settings_uuid),
        wire_uuid(project_uuid),
        wire_uuid(customer_uuid),
    )
    return {
        "url": f"{api}openstack-server-groups/{group_uuid}/",
        "uuid": group_uuid,
        "name": name,
        "description": description,
        "service_name": settings_name,
        "service_settings": f"{api}service-settings/{settings_uuid}/",
        "service_settings_uuid": settings_uuid,
        "service_settings_state": STATE_LABELS[settings_state],
        "service_settings_error_message": settings_error,
        "project": f"{api}projects/{project_uuid}/",
        "project_name": project_name,
        "project_uuid": project_uuid,
        "customer": f"{api}customers/{customer_uuid}/",
        "customer_uuid": customer_uuid,
        "customer_name": customer_name,
        "customer_native_name": customer_native_name,
        "customer_abbreviation": customer_abbreviation,
        "error_message": error_message,
        "error_traceback": error_traceback,
        "resource_type": "OpenStack.ServerGroup",
        "state": state,
        "created": wire_datetime(created),
        "modified": wire_datetime(modified),
        "backend_id": backend_id,
        "access_url": None,
        "tenant": f"{api}openstack-tenants/{tenant_uuid}/",
        "tenant_name": tenant_name,
        "tenant_uuid": tenant_uuid,
        "policy": policy,
        "display_name": f"Name: {name}, Policy: {policy}",
        "instances": instances,
        "marketplace_offering_uuid": None,
        "marketplace_offering_name": None,
        "marketplace_offering_type": None,
        "marketplace_offering_plugin_options": None,
        "marketplace_category_uuid": None,
        "marketplace_category_name": None,
        "marketplace_resource_uuid": None,
        "marketplace_plan_uuid": None,
        "marketplace_resource_state": None,
        "is_usage_based": None,
        "is_limit_based": None,
        "rules": wire_json(rules),
    }


MAX_SERVER_PER_HOST = 2**31 - 1  # a sane bound for every consumer of the JSON; no cloud has more hosts


class RulesField(serializers.Field):
    """Nova's rules of a group: `{"max_server_per_host": n}`, n from 1 to `MAX_SERVER_PER_HOST`; `{}`
    for none. `json_schema` documents the same bounds (`schema.RulesFieldSchema` puts it in the
    OpenAPI schema, as the `ServerGroupRules` component)."""

    default_error_messages = {
        # braces doubled: DRF passes every message through str.format()
        "invalid": 'Rules must be an object such as {{"max_server_per_host": 2}}.',
        "max_server_per_host": f"max_server_per_host must be an integer from 1 to {MAX_SERVER_PER_HOST}.",
    }

    def to_internal_value(self, data):
        if data in (None, "", {}):
            return {}
        if not isinstance(data, dict) or set(data) - {"max_server_per_host"}:
            self.fail("invalid")
        value = data.get("max_server_per_host")
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SERVER_PER_HOST:
            self.fail("max_server_per_host")
        return {"max_server_per_host": value}

    def to_representation(self, value):
        return value

    @staticmethod
    def json_schema() -> dict:
        return {
            "type": "object",
            "properties": {
                "max_server_per_host": {
                    "type": "integer",
                    "maximum": MAX_SERVER_PER_HOST,
                    "minimum": 1,
                    "description": "With the anti-affinity policy only: at most this many members on one host.",
                }
            },
        }


POLICY_HELP = "Server group policy determining the rules for scheduling servers in this group"


class PolicyField(serializers.ChoiceField):
    """One of Nova's four policies; blank (as the published client may send) means "not given"."""

    def __init__(self, **kwargs):
        super().__init__(choices=ServerGroup.Policy.choices, allow_blank=True, **kwargs)


NAME_MAX_LENGTH = 150
NAME_HELP = (
    "1 to 150 characters; spaces at either end are trimmed. OpenStack refuses control and invisible formatting "
    "characters, line and paragraph separators, and characters beyond U+FFFF (most emoji), so Cohort does too."
)


def validate_server_group_name(name: str) -> None:
    """Refuse a name that OpenStack would refuse, so that the user learns it now rather than from a
    record that goes ERRED later. A new policy replaces the Nova group under the current name, so a
    rename must obey this too."""
    refused = refused_character(name)
    if refused:
        raise serializers.ValidationError(refused.explain())


class ServerGroupNameField(serializers.CharField):
    """A server group's name, on create and update alike (and in the OpenAPI description)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", NAME_HELP)
        super().__init__(max_length=NAME_MAX_LENGTH, validators=[validate_server_group_name], **kwargs)


@extend_schema_serializer(component_name="OpenStackServerGroup")
class ServerGroupWriteSerializer(serializers.Serializer):
    """What a create or an update accepts (`OpenStackServerGroupRequest`, as the reference names it)."""

    name = ServerGroupNameField()
    description = serializers.CharField(max_length=2000, allow_blank=True, required=False)
    policy = PolicyField(
        required=False,
        help_text=f"{POLICY_HELP}. Left out or blank: affinity on create, unchanged on update.",
    )
    rules = RulesField(required=False, help_text="Accepted with the anti-affinity policy only.")

    def validate(self, attrs):
        if attrs.get("policy") == "":
            del attrs["policy"]
        policy = attrs.get("policy") or (self.instance.policy if self.instance else ServerGroup.Policy.AFFINITY)
        if attrs.get("rules") and policy != "anti-affinity":
            raise serializers.ValidationError({"rules": ["Rules are supported only with the anti-affinity policy."]})
        return attrs


@extend_schema_serializer(component_name="OpenStackServerGroupCreate")
class ServerGroupCreateSerializer(ServerGroupWriteSerializer):
    tenant = serializers.CharField(
        required=False,
        help_text="The tenant's URL (as in responses) or UUID. May be left out by a caller who manages exactly "
        "one tenant in state OK.",
    )


class SetErredSerializer(serializers.Serializer):
    error_message = serializers.CharField(allow_blank=True, required=False, default="")
    error_traceback = serializers.CharField(allow_blank=True, required=False, default="")


class TenantSerializer(serializers.Serializer):
    url = LinkField("openstack-tenants", source="*")
    uuid = HexUUIDField()
    name = serializers.CharField()
    description = serializers.CharField()
    backend_id = serializers.CharField()
    state = serializers.CharField()
    error_message = serializers.CharField()
    service_settings = LinkField("service-settings")
    service_settings_uuid = HexUUIDField(source="service_settings.uuid")
    service_name = serializers.CharField(source="service_settings.name")
    project = LinkField("projects")
    project_uuid = HexUUIDField(source="project.uuid")
    project_name = serializers.CharField(source="project.name")
    customer = LinkField("customers", source="project.customer")
    customer_uuid = HexUUIDField(source="project.customer.uuid")
    customer_name = serializers.CharField(source="project.customer.name")
    created = serializers.DateTimeField()
    modified = serializers.DateTimeField()


class InstanceSerializer(serializers.Serializer):
    url = LinkField("openstack-instances", source="*")
    uuid = HexUUIDField()
    name = serializers.CharField()
    backend_id = serializers.CharField()
    host_id = serializers.CharField()
    runtime_state = serializers.CharField(source="status")
    tenant = LinkField("openstack-tenants")
    tenant_uuid = HexUUIDField(source="tenant.uuid")
    server_group = LinkField("openstack-server-groups", allow_null=True)
    project = LinkField("projects", source="tenant.project")
    project_uuid = HexUUIDField(source="tenant.project.uuid")
    customer_uuid = HexUUIDField(source="tenant.project.customer.uuid")
    created = serializers.DateTimeField()
    modified = serializers.DateTimeField()
