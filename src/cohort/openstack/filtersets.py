"""Query filters of the list endpoints (CONTRACT section 5).

Empty values are ignored; an invalid value is a 400 naming the parameter. `state` takes repeated
keys and both the upper-case names and the display labels. Every ordering ends with the primary key,
so pages are stable under ties. The server-group filters carry their own documentation (`help_text`,
and a filter class drf-spectacular can type): the OpenAPI schema lists exactly these parameters.
"""

from __future__ import annotations

import django_filters as filters
from django import forms

from cohort.core.filtersets import FilterSet
from cohort.core.references import uuid_from_reference
from cohort.core.states import parse_state
from cohort.openstack.models import Instance, ServerGroup, Tenant
from cohort.structure.selectors import objects_manageable_by, objects_not_manageable_by


class StateListField(forms.Field):
    widget = forms.SelectMultiple

    def to_python(self, value):
        states = []
        for item in value or []:
            if not item:
                continue
            state = parse_state(item)
            if state is None:
                # the value goes in params, not in the message: django-filter %-formats the message
                raise forms.ValidationError(
                    "Select a valid choice. %(value)s is not one of the available choices.",
                    code="invalid_choice",
                    params={"value": item},
                )
            states.append(state)
        return states


class StrictBooleanField(forms.Field):
    TRUE, FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")

    def to_python(self, value):
        if value in (None, ""):
            return None
        text = str(value).strip().lower()
        if text in self.TRUE:
            return True
        if text in self.FALSE:
            return False
        raise forms.ValidationError("Must be a valid boolean: true or false.")


class StateFilter(filters.Filter):
    field_class = StateListField

    def filter(self, qs, value):
        return qs.filter(state__in=value) if value else qs


class BooleanFilter(filters.BooleanFilter):
    field_class = StrictBooleanField


class StableOrderingFilter(filters.OrderingFilter):
    def filter(self, qs, value):
        qs = super().filter(qs, value)
        return qs.order_by(*qs.query.order_by, "pk") if value else qs


class ReferenceField(forms.CharField):
    """A hyperlink as found in responses, or a bare UUID (hex or dashed)."""

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        parsed = uuid_from_reference(value)
        if parsed is None:
            raise forms.ValidationError("Enter a valid URL or UUID.")
        return parsed


class ReferenceFilter(filters.CharFilter):
    field_class = ReferenceField


def _substring(field_name: str, **kwargs) -> filters.CharFilter:
    return filters.CharFilter(field_name=field_name, lookup_expr="icontains", **kwargs)


SUBSTRING = "Case-insensitive substring"


def _uuid(field_name: str) -> filters.UUIDFilter:
    return filters.UUIDFilter(field_name=field_name, help_text="UUID, hex or dashed")


class ServerGroupFilter(FilterSet):
    name = _substring("name", help_text=SUBSTRING)
    name_exact = filters.CharFilter(field_name="name", lookup_expr="exact", help_text="Exact name")
    description = _substring("description", help_text=SUBSTRING)
    backend_id = filters.CharFilter(field_name="backend_id", lookup_expr="exact", help_text="Exact Nova group id")
    uuid = _uuid("uuid")
    customer = _uuid("tenant__project__customer__uuid")
    customer_uuid = _uuid("tenant__project__customer__uuid")
    customer_name = _substring("tenant__project__customer__name", help_text=SUBSTRING)
    customer_native_name = _substring("tenant__project__customer__native_name", help_text=SUBSTRING)
    customer_abbreviation = _substring("tenant__project__customer__abbreviation", help_text=SUBSTRING)
    project = _uuid("tenant__project__uuid")
    project_uuid = _uuid("tenant__project__uuid")
    project_name = _substring("tenant__project__name", help_text=SUBSTRING)
    service_settings_uuid = _uuid("tenant__service_settings__uuid")
    service_settings_name = _substring("tenant__service_settings__name", help_text=SUBSTRING)
    tenant = ReferenceFilter(field_name="tenant__uuid", help_text="The tenant's URL (as in responses) or its UUID")
    tenant_uuid = _uuid("tenant__uuid")
    state = StateFilter(
        help_text="Repeat the key for any of several states: `state=OK&state=ERRED` (display labels work too)."
    )
    placement_status = filters.MultipleChoiceFilter(
        choices=ServerGroup.PlacementStatus.choices,
        help_text="Repeat the key for any of several verdicts: `placement_status=violated&placement_status=degraded`.",
    )
    can_manage = BooleanFilter(
        method="filter_can_manage", help_text="Only groups the caller may (true) or may not (false) manage"
    )
    external_ip = filters.CharFilter(
        method="filter_external_ip", help_text="A server group has no IP: any value gives an empty list"
    )
    o = StableOrderingFilter(
        help_text="Ordering (`-` for descending); default by tenant name, then name.",
        fields=(
            ("name", "name"),
            ("created", "created"),
            ("modified", "modified"),
            ("state", "state"),
            ("tenant__name", "tenant_name"),
            ("tenant__project__name", "project_name"),
            ("tenant__project__customer__name", "customer_name"),
        ),
    )

    class Meta:
        model = ServerGroup
        fields: list[str] = []

    def filter_can_manage(self, queryset, name, value: bool):
        select = objects_manageable_by if value else objects_not_manageable_by
        return select(user=self.request.user, queryset=queryset)

    def filter_external_ip(self, queryset, name, value):
        return queryset.none()  # a server group has no IP address


class TenantFilter(FilterSet):
    name = _substring("name")
    name_exact = filters.CharFilter(field_name="name", lookup_expr="exact")
    backend_id = filters.CharFilter(field_name="backend_id")
    uuid = filters.UUIDFilter(field_name="uuid")
    project_uuid = filters.UUIDFilter(field_name="project__uuid")
    customer_uuid = filters.UUIDFilter(field_name="project__customer__uuid")
    service_settings_uuid = filters.UUIDFilter(field_name="service_settings__uuid")
    state = StateFilter()

    class Meta:
        model = Tenant
        fields: list[str] = []


class InstanceFilter(FilterSet):
    name = _substring("name")
    backend_id = filters.CharFilter(field_name="backend_id")
    uuid = filters.UUIDFilter(field_name="uuid")
    tenant_uuid = filters.UUIDFilter(field_name="tenant__uuid")
    server_group_uuid = filters.UUIDFilter(field_name="server_group__uuid")
    project_uuid = filters.UUIDFilter(field_name="tenant__project__uuid")

    class Meta:
        model = Instance
        fields: list[str] = []
