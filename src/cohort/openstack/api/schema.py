"""The OpenAPI description of the OpenStack endpoints.

Nothing here copies a shape declared elsewhere: the `OpenStackServerGroup` component is documented
from the declaration that renders it (`wire.SERVER_GROUP`), request bodies by the serializers that
validate them (`RulesFieldSchema` below gives the custom rules field its component), and the list's
query parameters by the filters that apply them (their `help_text` and class); only `field`, `o` and
`state`, which the filters cannot describe, are spelled out here, from the declaration or the filter
they stand for. Operation ids, component and enum names are the reference's (those of the published
`waldur-api-client`).
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
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
from cohort.core.shapes import documenting_serializer
from cohort.core.states import State
from cohort.openstack.api.serializers import (
    DryRunSerializer,
    HealScheduledSerializer,
    HealSerializer,
    PlacementSerializer,
    QuotaSerializer,
    RulesField,
    ServerGroupCreateSerializer,
    ServerGroupWriteSerializer,
    SetErredSerializer,
    SetQuotasSerializer,
)
from cohort.openstack.api.wire import SERVER_GROUP
from cohort.openstack.filtersets import ServerGroupFilter
from cohort.openstack.models import ServerGroup

# The enums' component names, as the reference's (SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"])
STATE_CHOICES = State.choices  # CoreStates
POLICY_CHOICES = ServerGroup.Policy.choices  # PolicyEnum


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


class StatusSerializer(serializers.Serializer):
    status = serializers.CharField(read_only=True)


class QuotasSetSerializer(StatusSerializer):
    """`set_quotas`'s answer: the reference's `Status`, with what Nova now says."""

    quotas = QuotaSerializer(many=True, read_only=True)


FIELD_PARAMETER = OpenApiParameter(
    "field",
    {"type": "array", "items": {"type": "string", "enum": list(SERVER_GROUP.names)}},
    explode=True,
    description="Repeat the key to keep only those keys of each object: `field=name&field=state`.",
)

# drf-spectacular documents every filter of ServerGroupFilter from its class and help_text; these
# override what it cannot infer: a repeated key, and the ordering's values.
FILTERS = ServerGroupFilter.base_filters
ORDERING = [f"{descending}{name}" for name in FILTERS["o"].param_map for descending in ("", "-")]
LIST_PARAMETERS = [
    FIELD_PARAMETER,
    OpenApiParameter(
        "o",
        {"type": "array", "items": {"type": "string", "enum": ORDERING}},
        explode=False,
        description=FILTERS["o"].extra["help_text"],
    ),
    OpenApiParameter(
        "state",
        {"type": "array", "items": {"$ref": "#/components/schemas/CoreStates"}},
        explode=True,
        description=FILTERS["state"].extra["help_text"],
    ),
]

GROUP = documenting_serializer(SERVER_GROUP)
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
    placement=_op(
        "openstack_server_groups_placement_retrieve",
        "Does the placement hold?",
        description="The placement verdict, where each member is (hosts as short labels; host names for staff where "
        "the cloud's credentials may list compute hosts), and the failed members with Nova's fault. Judged at each "
        "pull; the same visibility as the group.",
        responses={200: PlacementSerializer, **SEEN},
    ),
    heal=_op(
        "openstack_server_groups_heal",
        "Mend the placement",
        description="Staff only. `dry_run`: the plan, and nothing changes. Otherwise the group goes UPDATE_SCHEDULED, "
        "UPDATING, then OK while its plan's servers are moved one at a time by Nova's scheduler (live if ACTIVE, "
        "cold and confirmed if SHUTOFF); the report's `last_heal` says how it went. 409 when the group is not OK "
        "or has nothing to mend, or its plan is blocked.",
        request=HealSerializer,
        responses={200: DryRunSerializer, 202: HealScheduledSerializer, 400: INVALID, **CHANGED, 409: CONFLICT},
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
    pull_quotas=_op(
        "openstack_tenants_pull_quotas",
        "Synchronize the tenant's quotas",
        description="Schedule a read of the tenant's server-group quotas from Nova (its GET /limits, as the tenant).",
        request=None,
        responses={202: StatusSerializer, **CHANGED, 409: CONFLICT},
    ),
    set_quotas=_op(
        "openstack_tenants_set_quotas",
        "Set tenant quotas",
        description="Staff only. Writes server_group_count (Nova's server_groups) and server_group_member_count "
        "(Nova's server_group_members) to Nova with the cloud's own credentials (os-quota-sets), and answers with "
        "what Nova now says. -1 is unlimited. Nova's refusal is a 409 with Nova's words.",
        request=SetQuotasSerializer,
        responses={202: QuotasSetSerializer, 400: INVALID, **CHANGED, 409: CONFLICT},
    ),
)
