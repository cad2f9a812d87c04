"""Read endpoints for customers, projects and clouds, so every hyperlink in a response resolves."""

from cohort.core.schema import read_only_schema
from cohort.core.viewsets import ReadOnlyViewSet
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
