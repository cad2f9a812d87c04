"""The OpenAPI description of the OpenStack endpoints.

Server-group responses are built by a plain function (`serializers.server_group_objects`), not by a
serializer, so `OpenStackServerGroupSerializer` here exists only to document that shape: every key
of `serializers.FIELDS`, in order, with its type. It is never used to render; a test validates real
responses against the generated schema so the two cannot drift apart. Request bodies are documented
by the serializers that validate them (`RulesFieldSchema` gives the custom rules field its
component). Operation ids, component and enum names are the reference's (those of the published
`waldur-api-client`).
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers

from cohort.core.schema import (
    CHANGED,
    CONFLICT,
    FORBIDDEN,
    INVALID,
    SEEN,
    UNAUTHENTICATED,
    DetailSerializer,
    list_responses,
)
from cohort.core.states import State
from cohort.openstack.api.serializers import (
    FIELDS,
    POLICY_HELP,
    RulesField,
    ServerGroupCreateSerializer,
    ServerGroupWriteSerializer,
    SetErredSerializer,
)
from cohort.openstack.models import ServerGroup

STATE_CHOICES = State.choices
POLICY_CHOICES = ServerGroup.Policy.choices
ORDERING = ("name", "created", "modified", "state", "tenant_name", "project_name", "customer_name")


class OpenStackNestedInstanceSerializer(serializers.Serializer):
    backend_id = serializers.CharField(read_only=True, help_text="Instance ID in the OpenStack backend")
    name = serializers.CharField(read_only=True)
    uuid = serializers.UUIDField(read_only=True)


class RulesFieldSchema(OpenApiSerializerFieldExtension):
    """`RulesField` as the component `ServerGroupRules` (`ServerGroupRulesRequest` in a request body)."""

    target_class = RulesField

    def map_serializer_field(self, auto_schema, direction):
        name = "ServerGroupRulesRequest" if direction == "request" else "ServerGroupRules"
        component = ResolvedComponent(
            name=name, type=ResolvedComponent.SCHEMA, object=name, schema=RulesField.json_schema()
        )
        auto_schema.registry.register_on_missing(component)
        return component.ref


def _text() -> serializers.CharField:
    return serializers.CharField(read_only=True)


def _uuid_field() -> serializers.UUIDField:
    return serializers.UUIDField(read_only=True)


def _link() -> serializers.URLField:
    return serializers.URLField(read_only=True)


def _nullable(field_class=serializers.CharField) -> serializers.Field:
    return field_class(read_only=True, allow_null=True)


class OpenStackServerGroupSerializer(serializers.Serializer):
    """A server group as answered. `?field=` may leave any key out, so none is required."""

    url = _link()
    uuid = _uuid_field()
    name = _text()
    description = _text()
    service_name = _text()
    service_settings = _link()
    service_settings_uuid = _uuid_field()
    service_settings_state = _text()
    service_settings_error_message = _text()
    project = _link()
    project_name = _text()
    project_uuid = _uuid_field()
    customer = _link()
    customer_uuid = _uuid_field()
    customer_name = _text()
    customer_native_name = _text()
    customer_abbreviation = _text()
    error_message = _text()
    error_traceback = _text()
    resource_type = _text()
    state = serializers.ChoiceField(choices=STATE_CHOICES, read_only=True)
    created = serializers.DateTimeField(read_only=True)
    modified = serializers.DateTimeField(read_only=True)
    backend_id = _text()
    access_url = _nullable()
    tenant = _link()
    tenant_name = _text()
    tenant_uuid = _uuid_field()
    policy = serializers.ChoiceField(choices=POLICY_CHOICES, read_only=True, help_text=POLICY_HELP)
    display_name = _text()
    instances = OpenStackNestedInstanceSerializer(many=True, read_only=True)
    marketplace_offering_uuid = _nullable()
    marketplace_offering_name = _nullable()
    marketplace_offering_type = _nullable()
    marketplace_offering_plugin_options = _nullable(serializers.DictField)
    marketplace_category_uuid = _nullable()
    marketplace_category_name = _nullable()
    marketplace_resource_uuid = _nullable()
    marketplace_plan_uuid = _nullable()
    marketplace_resource_state = _nullable()
    is_usage_based = _nullable(serializers.BooleanField)
    is_limit_based = _nullable(serializers.BooleanField)
    rules = RulesField(read_only=True, help_text="Nova's rules; {} when there are none.")


class StatusSerializer(serializers.Serializer):
    status = serializers.CharField(read_only=True)


def _uuid(name: str) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.UUID, description="UUID, hex or dashed")


def _substring(name: str) -> OpenApiParameter:
    return OpenApiParameter(name, str, description="Case-insensitive substring")


FIELD_PARAMETER = OpenApiParameter(
    "field",
    {"type": "array", "items": {"type": "string", "enum": list(FIELDS)}},
    explode=True,
    description="Repeat the key to keep only those keys of each object: `field=name&field=state`.",
)

LIST_PARAMETERS = [
    _uuid("uuid"),
    OpenApiParameter("backend_id", str, description="Exact Nova group id"),
    OpenApiParameter("can_manage", bool, description="Only groups the caller may (true) or may not (false) manage"),
    _uuid("customer"),
    _substring("customer_abbreviation"),
    _substring("customer_name"),
    _substring("customer_native_name"),
    _uuid("customer_uuid"),
    _substring("description"),
    OpenApiParameter("external_ip", str, description="A server group has no IP: any value gives an empty list"),
    FIELD_PARAMETER,
    _substring("name"),
    OpenApiParameter("name_exact", str, description="Exact name"),
    OpenApiParameter(
        "o",
        {"type": "array", "items": {"type": "string", "enum": [f"{d}{n}" for n in ORDERING for d in ("", "-")]}},
        explode=False,
        description="Ordering (`-` for descending); default by tenant name, then name.",
    ),
    _uuid("project"),
    _substring("project_name"),
    _uuid("project_uuid"),
    _substring("service_settings_name"),
    _uuid("service_settings_uuid"),
    OpenApiParameter(
        "state",
        {"type": "array", "items": {"$ref": "#/components/schemas/CoreStates"}},
        explode=True,
        description="Repeat the key for any of several states: `state=OK&state=ERRED` (display labels work too).",
    ),
    OpenApiParameter("tenant", str, description="The tenant's URL (as in responses) or its UUID"),
    _uuid("tenant_uuid"),
]

GROUP = OpenStackServerGroupSerializer
UPDATE_HELP = (
    "In state OK only. A new name or description is kept locally; a new policy or rules replace the Nova group "
    "(UPDATE_SCHEDULED, then UPDATING, then OK with a new backend_id), and are refused with 409 once it has members."
)


def _op(operation_id: str, summary: str, **kwargs):
    return extend_schema(operation_id=operation_id, summary=summary, **kwargs)


server_group_schema = extend_schema_view(
    list=_op(
        "openstack_server_groups_list",
        "List server groups",
        description="Get a list of server groups: a bare JSON array, one page of it.",
        parameters=LIST_PARAMETERS,
        responses=list_responses(GROUP),
    ),
    retrieve=_op(
        "openstack_server_groups_retrieve",
        "Get server group details",
        parameters=[FIELD_PARAMETER],
        responses={200: GROUP, **SEEN},
    ),
    create=_op(
        "openstack_server_groups_create",
        "Create",
        description="The new group is answered at once in CREATION_SCHEDULED; Nova is asked in the background.",
        parameters=[FIELD_PARAMETER],
        request=ServerGroupCreateSerializer,
        responses={201: GROUP, 400: INVALID, 401: UNAUTHENTICATED, 403: FORBIDDEN, 409: CONFLICT},
    ),
    update=_op(
        "openstack_server_groups_update",
        "Update",
        description=UPDATE_HELP,
        request=ServerGroupWriteSerializer,
        responses={200: GROUP, 400: INVALID, **CHANGED, 409: CONFLICT},
    ),
    partial_update=_op(
        "openstack_server_groups_partial_update",
        "Partial Update",
        description=UPDATE_HELP,
        request=ServerGroupWriteSerializer,
        responses={200: GROUP, 400: INVALID, **CHANGED, 409: CONFLICT},
    ),
    destroy=_op(
        "openstack_server_groups_destroy",
        "Delete server group",
        description="Deletion goes on in the background; the group is gone once Nova has dropped it.",
        responses={204: None, **CHANGED, 409: CONFLICT},
    ),
    pull=_op(
        "openstack_server_groups_pull",
        "Synchronize resource state",
        description="Schedule a refresh of the group's policy, rules and members from Nova.",
        request=None,
        responses={202: DetailSerializer, **CHANGED, 409: CONFLICT},
    ),
    unlink=_op(
        "openstack_server_groups_unlink",
        "Unlink resource",
        description="Staff only. Delete the record without touching Nova, whatever its state.",
        request=None,
        responses={204: None, **CHANGED},
    ),
    set_ok=_op(
        "openstack_server_groups_set_ok",
        "Set resource state to OK",
        description="Staff only. Clears error_message and error_traceback.",
        request=None,
        responses={200: DetailSerializer, **CHANGED},
    ),
    set_erred=_op(
        "openstack_server_groups_set_erred",
        "Set resource state to ERRED",
        description="Staff only.",
        request=SetErredSerializer,
        responses={200: DetailSerializer, 400: INVALID, **CHANGED},
    ),
)

tenant_schema = extend_schema_view(
    create_server_group=_op(
        "openstack_tenants_create_server_group",
        "Create a server group in this tenant",
        description="The new group is answered at once in CREATION_SCHEDULED; Nova is asked in the background.",
        request=ServerGroupWriteSerializer,
        responses={201: GROUP, 400: INVALID, **CHANGED, 409: CONFLICT},
    ),
    pull_server_groups=_op(
        "openstack_tenants_pull_server_groups",
        "Synchronize the tenant's server groups",
        description="Schedule a reconciliation of the tenant's server groups with Nova.",
        request=None,
        responses={202: StatusSerializer, **CHANGED, 409: CONFLICT},
    ),
)
