"""The query filters of `/api/events/`, with the reference's names and meanings.

`created_from` and `created_to` are Unix timestamps (seconds, fractions allowed): `created_from` is
inclusive, `created_to` exclusive, as in the reference. `event_type` repeats for any of several types;
`message` is a case-insensitive substring; `scope` is the URL of an object as found in responses (a
server group, tenant, project, customer or cloud) and keeps the events about it and, for a tenant,
project or customer, about everything in it. A scope the caller may not see gives an empty list, not
an error: whether it exists is not told. Every filter reads an indexed column, never the JSON.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from urllib.parse import urlsplit

import django_filters as filters
from django import forms
from django.db.models import Q
from django.urls import Resolver404, resolve
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from cohort.core.filtersets import FilterSet
from cohort.core.references import parse_uuid
from cohort.events.models import Event


class TimestampField(forms.Field):
    def to_python(self, value):
        if value in (None, ""):
            return None
        try:
            seconds = float(value)
            if not math.isfinite(seconds):
                raise ValueError
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            raise forms.ValidationError("Enter a Unix timestamp (seconds since 1970-01-01 UTC).") from None


@extend_schema_field(OpenApiTypes.NUMBER)
class TimestampFilter(filters.Filter):
    field_class = TimestampField


class ListField(forms.Field):
    widget = forms.SelectMultiple

    def to_python(self, value):
        return [item for item in (value or []) if item]


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class ListFilter(filters.Filter):
    field_class = ListField

    def filter(self, qs, value):
        return qs.filter(**{f"{self.field_name}__in": value}) if value else qs


class ScopeField(forms.CharField):
    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        try:
            match = resolve(urlsplit(value).path)
        except Resolver404:
            match = None
        cls = getattr(getattr(match, "func", None), "cls", None)
        uuid = parse_uuid(match.kwargs.get("uuid", "")) if match else None
        if cls is None or uuid is None or getattr(cls, "visible_to", None) is None:
            raise forms.ValidationError("Enter the URL of an object, as found in responses.")
        return cls, uuid


@extend_schema_field(OpenApiTypes.URI)
class ScopeFilter(filters.Filter):
    field_class = ScopeField

    def filter(self, qs, value):
        if not value:
            return qs
        viewset, uuid = value
        target = viewset.visible_to(user=self.parent.request.user).filter(uuid=uuid).first()
        if target is None or not hasattr(target, "event_scope"):
            return qs.none()
        return qs.filter(Q(scope_uuid=uuid) | Q(tenant_uuid=uuid) | Q(project_uuid=uuid) | Q(customer_uuid=uuid))


class EventFilter(FilterSet):
    scope = ScopeFilter(help_text="The URL of an object (as in responses): its events and those of what it holds")
    event_type = ListFilter(field_name="event_type", help_text="Repeat the key for any of several types")
    customer_uuid = filters.UUIDFilter(field_name="customer_uuid", help_text="UUID, hex or dashed")
    project_uuid = filters.UUIDFilter(field_name="project_uuid", help_text="UUID, hex or dashed")
    created_from = TimestampFilter(
        field_name="created", lookup_expr="gte", help_text="Unix timestamp: events created at or after it"
    )
    created_to = TimestampFilter(field_name="created", lookup_expr="lt", help_text="Unix timestamp: events before it")
    message = filters.CharFilter(field_name="message", lookup_expr="icontains", help_text="Case-insensitive substring")
    o = filters.OrderingFilter(fields=(("created", "created"),), help_text="`created` or `-created` (the default)")

    class Meta:
        model = Event
        fields: list[str] = []

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        ordering = self.form.cleaned_data.get("o")
        if ordering:  # ties broken by the order of writing, so pages are stable
            queryset = queryset.order_by(*ordering, "pk" if ordering[0] == "created" else "-pk")
        return queryset
