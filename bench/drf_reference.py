"""For calibration only: the same page served the idiomatic DRF way, to compare Cohort against.

A HyperlinkedModelSerializer-style serializer with nested members, `select_related` and
`prefetch_related` (so no N+1), Cohort's own scoping and pagination. `bench/list_page.py` times it in
process next to Cohort and the floor. Not part of the product.
"""

from rest_framework import serializers as s
from rest_framework.generics import ListAPIView

from cohort.core.pagination import LinkHeaderPagination
from cohort.openstack.models import Instance, ServerGroup
from cohort.openstack.selectors import server_groups_visible_to


class MemberSerializer(s.ModelSerializer):
    class Meta:
        model = Instance
        fields = ("backend_id", "name", "uuid")


class ServerGroupSerializer(s.ModelSerializer):
    url = s.SerializerMethodField()
    service_name = s.CharField(source="tenant.service_settings.name")
    service_settings_uuid = s.UUIDField(source="tenant.service_settings.uuid", format="hex")
    service_settings_state = s.CharField(source="tenant.service_settings.get_state_display")
    service_settings_error_message = s.CharField(source="tenant.service_settings.error_message")
    project_name = s.CharField(source="tenant.project.name")
    project_uuid = s.UUIDField(source="tenant.project.uuid", format="hex")
    customer_uuid = s.UUIDField(source="tenant.project.customer.uuid", format="hex")
    customer_name = s.CharField(source="tenant.project.customer.name")
    customer_native_name = s.CharField(source="tenant.project.customer.native_name")
    customer_abbreviation = s.CharField(source="tenant.project.customer.abbreviation")
    tenant_name = s.CharField(source="tenant.name")
    tenant_uuid = s.UUIDField(source="tenant.uuid", format="hex")
    display_name = s.SerializerMethodField()
    instances = MemberSerializer(many=True)

    class Meta:
        model = ServerGroup
        fields = (
            "url", "uuid", "name", "description", "service_name", "service_settings_uuid", "service_settings_state",
            "service_settings_error_message", "project_name", "project_uuid", "customer_uuid", "customer_name",
            "customer_native_name", "customer_abbreviation", "error_message", "error_traceback", "state", "created",
            "modified", "backend_id", "tenant_name", "tenant_uuid", "policy", "display_name", "instances", "rules",
        )  # fmt: skip

    def get_url(self, group):
        return self.context["request"].build_absolute_uri(f"/api/openstack-server-groups/{group.uuid.hex}/")

    def get_display_name(self, group):
        return f"Name: {group.name}, Policy: {group.policy}"


class ServerGroupList(ListAPIView):
    serializer_class = ServerGroupSerializer
    pagination_class = LinkHeaderPagination

    def get_queryset(self):
        return (
            server_groups_visible_to(user=self.request.user)
            .select_related("tenant__project__customer", "tenant__service_settings")
            .prefetch_related("instances")
        )
