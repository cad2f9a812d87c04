"""Customers, projects and clouds on the wire. Cloud credentials are never serialised."""

from rest_framework import serializers

from cohort.core.fields import HexUUIDField, LinkField


class CustomerSerializer(serializers.Serializer):
    url = LinkField("customers", source="*")
    uuid = HexUUIDField()
    name = serializers.CharField()
    native_name = serializers.CharField()
    abbreviation = serializers.CharField()
    created = serializers.DateTimeField()


class ProjectSerializer(serializers.Serializer):
    url = LinkField("projects", source="*")
    uuid = HexUUIDField()
    name = serializers.CharField()
    description = serializers.CharField()
    customer = LinkField("customers")
    customer_uuid = HexUUIDField(source="customer.uuid")
    customer_name = serializers.CharField(source="customer.name")
    created = serializers.DateTimeField()


class ServiceSettingsSerializer(serializers.Serializer):
    url = LinkField("service-settings", source="*")
    uuid = HexUUIDField()
    name = serializers.CharField()
    type = serializers.CharField()
    state = serializers.CharField(source="get_state_display")
    error_message = serializers.CharField()
    shared = serializers.BooleanField()
    customer = LinkField("customers", allow_null=True)
    created = serializers.DateTimeField()
    auto_heal = serializers.BooleanField(
        help_text="Reconciliation heals the cloud's degraded and violated groups by itself (`cohort cloud NAME "
        "--auto-heal on`)"
    )
