"""Serializer fields for the reference's wire forms: hex UUIDs and absolute hyperlinks by uuid."""

from rest_framework import serializers

from cohort.core.viewsets import api_root


class HexUUIDField(serializers.UUIDField):
    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(format="hex", **kwargs)


class LinkField(serializers.Field):
    """`<api root><route>/<uuid hex>/` of the object at `source` (None when there is none)."""

    def __init__(self, route: str, **kwargs):
        self.route = route
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def get_attribute(self, instance):
        target = super().get_attribute(instance)
        return None if target is None else target.uuid

    def to_representation(self, value):
        return f"{api_root(self.context['request'])}{self.route}/{value.hex}/"
