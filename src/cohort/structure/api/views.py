"""Read endpoints for customers, projects and clouds, so every hyperlink in a response resolves."""

from django.db.models import Q
from rest_framework import mixins

from cohort.core.schema import read_only_schema
from cohort.core.viewsets import ScopedViewSet
from cohort.structure.api import serializers
from cohort.structure.models import Customer, Project, ServiceSettings
from cohort.structure.permissions import NOTHING, customer_scope, project_scope


class ReadOnlyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    filterset_fields = ("name",)


@read_only_schema(serializers.CustomerSerializer)
class CustomerViewSet(ReadOnlyViewSet):
    queryset = Customer.objects.all()
    serializer_class = serializers.CustomerSerializer

    def scope(self, *, manage=False):
        return customer_scope(self.request.user, manage=manage)


@read_only_schema(serializers.ProjectSerializer)
class ProjectViewSet(ReadOnlyViewSet):
    queryset = Project.objects.select_related("customer")
    serializer_class = serializers.ProjectSerializer


@read_only_schema(serializers.ServiceSettingsSerializer)
class ServiceSettingsViewSet(ReadOnlyViewSet):
    """A cloud is visible to staff, to all when shared, to its customer's owners, and to whoever sees
    one of its tenants."""

    queryset = ServiceSettings.objects.all()
    serializer_class = serializers.ServiceSettingsSerializer

    def scope(self, *, manage=False):
        from cohort.openstack.models import Tenant

        user = self.request.user
        tenants = project_scope(user, Tenant.project_path)
        if tenants is None or tenants is NOTHING:
            return tenants
        if manage:
            return NOTHING
        return (
            Q(shared=True)
            | Q(customer_id__in=Customer.objects.filter(customer_scope(user, manage=True)).values("pk"))
            | Q(pk__in=Tenant.objects.filter(tenants).values("service_settings_id"))
        )
