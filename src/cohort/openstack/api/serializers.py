"""Server groups on the wire: what a request may carry, and the tenant and instance read serializers.

The serializers here both validate and document: the OpenAPI request components
(`OpenStackServerGroupRequest`, `PatchedOpenStackServerGroupRequest`,
`OpenStackServerGroupCreateRequest`, `SetErredRequest`) are generated from them, so what is
documented is what is checked. A server group response is not a serializer's output: it is declared
and rendered in `wire.py`.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from cohort.cloud import QUOTA_MAX
from cohort.cloud.names import refused_character
from cohort.core.fields import HexUUIDField, LinkField
from cohort.openstack.models import ServerGroup
from cohort.openstack.quotas import QUOTAS, tenant_quotas

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
        # A blank policy (as the published client may send) means "not given". Whether rules fit the
        # policy is the services' rule (`services.RULES_NEED_ANTI_AFFINITY`), checked there once.
        if attrs.get("policy") == "":
            del attrs["policy"]
        return attrs


@extend_schema_serializer(component_name="OpenStackServerGroupCreate")
class ServerGroupCreateSerializer(ServerGroupWriteSerializer):
    tenant = serializers.CharField(
        required=False,
        help_text="The tenant's URL (as in responses) or UUID. May be left out by a caller who manages exactly "
        "one tenant in state OK.",
    )


class StrictBooleanField(serializers.BooleanField):
    """JSON's true or false (or, from a form, the words true and false): not 1, "yes" or "on"."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        if isinstance(data, str) and data.lower() in ("true", "false"):
            return data.lower() == "true"
        self.fail("invalid")


class HealSerializer(serializers.Serializer):
    """What `POST .../heal/` accepts: nothing, or `dry_run`."""

    dry_run = StrictBooleanField(
        required=False, default=False, help_text="true: answer the plan and change nothing (no move, no event)."
    )

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields)) if hasattr(self.initial_data, "keys") else []
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field: heal takes only dry_run."] for name in unknown})
        return attrs


class SetErredSerializer(serializers.Serializer):
    error_message = serializers.CharField(allow_blank=True, required=False, default="")
    error_traceback = serializers.CharField(allow_blank=True, required=False, default="")


class QuotaSerializer(serializers.Serializer):
    """One of a tenant's quotas, in Waldur's shape (the `Quota` component)."""

    name = serializers.CharField(read_only=True, help_text=" or ".join(QUOTAS))
    limit = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="-1 is unlimited; null when the cloud has not said"
    )
    usage = serializers.IntegerField(read_only=True)


QUOTA_VALUE_HELP = f"An integer from -1 (unlimited) to {QUOTA_MAX}, Nova's largest."


class QuotaValueField(serializers.IntegerField):
    default_error_messages = {
        "invalid": f"A quota must be an integer: {QUOTA_VALUE_HELP}",
        "min_value": f"A quota cannot be below -1 (unlimited): {QUOTA_VALUE_HELP}",
        "max_value": f"A quota cannot be above {QUOTA_MAX}, Nova's largest.",
    }

    def __init__(self, **kwargs):
        super().__init__(min_value=-1, max_value=QUOTA_MAX, required=False, help_text=QUOTA_VALUE_HELP, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or (isinstance(data, float) and not data.is_integer()):
            self.fail("invalid")
        return super().to_internal_value(data)


class SetQuotasSerializer(serializers.Serializer):
    """What `set_quotas` accepts: Waldur's body, of which Cohort sets the server-group quotas (other
    Waldur quota names are not Nova server-group quotas, and are ignored)."""

    server_group_count = QuotaValueField()
    server_group_member_count = QuotaValueField()

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Give server_group_count, server_group_member_count, or both.")
        return attrs


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
    quotas = serializers.SerializerMethodField(
        help_text="The server-group quotas: server_group_count (Nova's server_groups) and "
        "server_group_member_count (Nova's server_group_members; usage is the largest group's member count)"
    )

    @extend_schema_field(QuotaSerializer(many=True))
    def get_quotas(self, tenant) -> list[dict]:
        return tenant_quotas(tenant)


class InstanceSerializer(serializers.Serializer):
    url = LinkField("openstack-instances", source="*")
    uuid = HexUUIDField()
    name = serializers.CharField()
    backend_id = serializers.CharField()
    host_id = serializers.CharField()
    runtime_state = serializers.CharField(source="status")
    fault_message = serializers.CharField(help_text="Why Nova put the server in ERROR (its fault); empty when none.")
    seen_at = serializers.DateTimeField(allow_null=True, help_text="When Cohort last saw the server in Nova's listing.")
    tenant = LinkField("openstack-tenants")
    tenant_uuid = HexUUIDField(source="tenant.uuid")
    server_group = LinkField("openstack-server-groups", allow_null=True)
    project = LinkField("projects", source="tenant.project")
    project_uuid = HexUUIDField(source="tenant.project.uuid")
    customer_uuid = HexUUIDField(source="tenant.project.customer.uuid")
    created = serializers.DateTimeField()
    modified = serializers.DateTimeField()


class PlacementMemberSerializer(serializers.Serializer):
    uuid = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True, help_text="Nova's status of the server")


class FailedMemberSerializer(PlacementMemberSerializer):
    fault_message = serializers.CharField(read_only=True, help_text="Nova's fault: why the server is in ERROR")


class PlacementHostSerializer(serializers.Serializer):
    host = serializers.CharField(read_only=True, help_text="A short, stable label of Nova's per-project host id")
    host_name = serializers.CharField(
        read_only=True, allow_null=True, help_text="The host's name: staff only, where the cloud lets Cohort list hosts"
    )
    members = PlacementMemberSerializer(many=True, read_only=True)


class PlanServerSerializer(serializers.Serializer):
    uuid = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)


# A move's keys are `server`, `from` (a Python keyword, hence the class built by type()) and `reason`.
PlanMoveSerializer = type(
    "PlanMoveSerializer",
    (serializers.Serializer,),
    {
        "__doc__": "One move of a placement plan: which server leaves which host, and why.",
        "__module__": __name__,
        "server": PlanServerSerializer(read_only=True, help_text="The member that leaves its host"),
        "from": serializers.CharField(
            read_only=True, help_text="The host it leaves, named as in `by_host`: its name for staff, else its label"
        ),
        "reason": serializers.CharField(
            read_only=True,
            help_text='Why, in words: e.g. "shares host1 with vm-2", "host1 holds 3, '
            'max_server_per_host is 2", "outside host2, where the group\'s other members are"',
        ),
    },
)


HealMoveSerializer = type(
    "HealMoveSerializer",
    (serializers.Serializer,),
    {
        "__doc__": "One move the heal made or tried.",
        "__module__": __name__,
        "server": PlanServerSerializer(read_only=True),
        "from": serializers.CharField(read_only=True, allow_null=True, help_text="The host it left: staff only"),
        "to": serializers.CharField(read_only=True, allow_null=True, help_text="The host it reached: staff only"),
        "kind": serializers.ChoiceField(choices=["live", "cold"], read_only=True),
        "seconds": serializers.FloatField(read_only=True, allow_null=True),
        "outcome": serializers.ChoiceField(choices=["succeeded", "failed", "skipped"], read_only=True),
        "message": serializers.CharField(read_only=True, help_text="Why it failed, in Nova's words (staff)"),
    },
)


class LastHealSerializer(serializers.Serializer):
    started = serializers.DateTimeField(read_only=True)
    finished = serializers.DateTimeField(read_only=True, allow_null=True, help_text="Null while the heal runs")
    moves_done = serializers.IntegerField(read_only=True)
    stopped_because = serializers.CharField(
        read_only=True, allow_null=True, help_text="Why the heal stopped early (Nova's own words); null if it did not"
    )
    automatic = serializers.BooleanField(read_only=True, help_text="Asked for by reconciliation (auto-heal)")
    moves = HealMoveSerializer(many=True, read_only=True)
    auto_heal_paused_until = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="The group broke again within an hour of a heal that mended it: reconciliation does not heal it "
        "by itself until then (no flapping)",
    )


class DryRunSerializer(serializers.Serializer):
    placement_status = serializers.ChoiceField(choices=ServerGroup.PlacementStatus.choices, read_only=True)
    plan = PlanMoveSerializer(many=True, read_only=True)
    blocked = serializers.CharField(read_only=True, allow_null=True)


class HealScheduledSerializer(serializers.Serializer):
    detail = serializers.CharField(read_only=True)
    plan = PlanMoveSerializer(many=True, read_only=True)


class PlacementSerializer(serializers.Serializer):
    """The answer of `GET /api/openstack-server-groups/{uuid}/placement/` (`placement.placement_report`)."""

    placement_status = serializers.ChoiceField(choices=ServerGroup.PlacementStatus.choices, read_only=True)
    checked_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="When the verdict was judged")
    hosts = serializers.IntegerField(read_only=True, help_text="Distinct hosts holding a member")
    largest_host_members = serializers.IntegerField(read_only=True, help_text="Most members on one host")
    largest_host_share = serializers.FloatField(
        read_only=True,
        allow_null=True,
        help_text="That host's share of the placed members: the part of the group one host failure takes down",
    )
    by_host = PlacementHostSerializer(many=True, read_only=True, help_text="Placed members by host, most first")
    failed = FailedMemberSerializer(many=True, read_only=True, help_text="Members in ERROR without a host")
    waiting = PlacementMemberSerializer(
        many=True, read_only=True, help_text="Members with no host yet that have not failed (being built)"
    )
    enabled_hosts = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text="Enabled, up compute hosts; null unless the cloud lets Cohort list them",
    )
    room = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text="How many more members fit: the smaller of what an anti-affinity policy allows on the enabled hosts "
        "and what the tenant's server_group_member_count quota allows; null when neither is known",
    )
    room_limited_by = serializers.ChoiceField(
        choices=["hosts", "quota"],
        read_only=True,
        allow_null=True,
        help_text="What limits room: the policy on the enabled hosts, or the member quota",
    )
    plan = PlanMoveSerializer(
        many=True,
        read_only=True,
        help_text="The fewest moves that bring a degraded or violated group to satisfied, in order; empty otherwise",
    )
    blocked = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="Null, or what a person must do first: the enabled hosts cannot hold the policy (the plan is "
        "then empty), or a member to move is not ACTIVE or SHUTOFF",
    )
    last_heal = LastHealSerializer(
        read_only=True, allow_null=True, help_text="The last heal of the group; null when there was none"
    )
