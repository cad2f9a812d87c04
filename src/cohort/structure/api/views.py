"""Read endpoints for customers, projects and clouds, so every hyperlink in a response resolves; and
`/api/events/`, the event log as the reference serves it (list, retrieve, HEAD and `count/`).

The event log's view sits here because who sees an event is a question of customers, projects and
roles (`selectors.events_visible_to`); the event app below this one knows none of them. An event is
addressed by its uuid: the reference's integer id never leaves the database here.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers as drf_serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from cohort.core.permissions import CanSee
from cohort.core.schema import read_only_schema
from cohort.core.viewsets import ReadOnlyViewSet
from cohort.events.api.filters import EventFilter
from cohort.events.api.serializers import FIELDS, EventSerializer
from cohort.structure import selectors
from cohort.structure.api import serializers


@read_only_schema(serializers.CustomerSerializer)
class CustomerViewSet(ReadOnlyViewSet):
    visible_to = staticmethod(selectors.customers_visible_to)
    serializer_class = serializers.CustomerSerializer


@read_only_schema(serializers.ProjectSerializer)
class ProjectViewSet(ReadOnlyViewSet):
    visible_to = staticmethod(selectors.projects_visible_to)
    serializer_class = serializers.ProjectSerializer


@read_only_schema(serializers.ServiceSettingsSerializer)
class ServiceSettingsViewSet(ReadOnlyViewSet):
    """A cloud is visible to staff, to all when shared, to its customer's owners, and to whoever sees
    one of its tenants."""

    visible_to = staticmethod(selectors.service_settings_visible_to)
    serializer_class = serializers.ServiceSettingsSerializer


EVENT_FIELD = OpenApiParameter(
    "field",
    str,
    many=True,
    enum=FIELDS,
    description="Repeat the key to answer only these keys of each event (all, without it).",
)


@extend_schema_view(list=extend_schema(parameters=[EVENT_FIELD]), retrieve=extend_schema(parameters=[EVENT_FIELD]))
@read_only_schema(EventSerializer)
class EventViewSet(ReadOnlyViewSet):
    visible_to = staticmethod(selectors.events_visible_to)
    serializer_class = EventSerializer
    filterset_class = EventFilter
    action_permissions = {**ReadOnlyViewSet.action_permissions, "count": CanSee}

    def list(self, request):
        queryset = self.filter_queryset(self.get_queryset())
        if request.method == "HEAD":
            self.paginator.count_only(queryset, request)
            return Response(headers=self.paginator.headers())
        page = self.paginator.paginate_queryset(queryset, request)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        summary="Count the events matching the filters",
        responses={200: inline_serializer("EventCount", {"count": drf_serializers.IntegerField()})},
    )
    @action(detail=False, methods=["get"])
    def count(self, request):
        return Response({"count": self.filter_queryset(self.get_queryset()).count()})
