"""The OpenStack endpoints: server groups, tenants (with their two actions) and instances.

Views parse; selectors decide what the caller sees; `action_permissions` says who may run each
action; services write; `server_group_response` renders. A server group response is always built
the same way, whichever endpoint returns it.
"""

from __future__ import annotations

from django.db import transaction
from django_filters.utils import translate_validation
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from cohort.core.permissions import READ, IsStaff
from cohort.core.references import uuid_from_reference
from cohort.core.rows import fetch_for_user
from cohort.core.schema import read_only_schema
from cohort.core.states import State
from cohort.core.viewsets import ReadOnlyViewSet, ScopedViewSet, api_root
from cohort.openstack import heal, listing, selectors, services
from cohort.openstack.api import serializers
from cohort.openstack.api.schema import server_group_schema, tenant_schema
from cohort.openstack.api.wire import server_group_objects
from cohort.openstack.filtersets import InstanceFilter, ServerGroupFilter, TenantFilter
from cohort.openstack.models import ServerGroup, Tenant
from cohort.openstack.placement import placement_report
from cohort.openstack.quotas import tenant_quotas
from cohort.structure.permissions import CanManage

# Filters that only narrow the tenants: the list's total is then the sum of their maintained counts.
TENANT_FILTERS = {
    "tenant": "uuid",
    "tenant_uuid": "uuid",
    "project": "project__uuid",
    "project_uuid": "project__uuid",
    "customer": "project__customer__uuid",
    "customer_uuid": "project__customer__uuid",
    "service_settings_uuid": "service_settings__uuid",
}


def tally_in_scope(*, user):
    """The tally query (`listing.tally_query`) of every tenant whose groups `user` sees."""
    return listing.tally_query(tenants=selectors.tenants_in_scope(user=user))


def server_group_responses(request, ids: list[int]) -> list[dict]:
    return server_group_objects(ids, api_root(request), request.query_params.getlist("field"))


def server_group_response(request, group: ServerGroup | int) -> dict:
    objects = server_group_responses(request, [group if type(group) is int else group.pk])
    if not objects:
        raise exceptions.NotFound()  # deleted by a concurrent request after this one read it
    return objects[0]


@server_group_schema
class ServerGroupViewSet(ScopedViewSet):
    visible_to = staticmethod(selectors.server_groups_visible_to)
    filterset_class = ServerGroupFilter
    action_permissions = {
        **READ,
        "create": CanManage,  # judged on the tenant named in the body
        "update": CanManage,
        "partial_update": CanManage,
        "destroy": CanManage,
        "pull": CanManage,
        "placement": READ["retrieve"],  # whoever sees the group sees its placement
        "heal": IsStaff,  # moving servers is a cloud admin's act: Cohort does it with the cloud's credentials
        "unlink": IsStaff,
        "set_ok": IsStaff,
        "set_erred": IsStaff,
    }

    def get_serializer_class(self):
        return (
            serializers.ServerGroupCreateSerializer
            if self.action == "create"
            else serializers.ServerGroupWriteSerializer
        )

    def filter_queryset(self, queryset):
        # Most list calls carry no filter at all (just page and page_size): skip building the filter
        # form, which costs more than the page's SQL.
        if not self.filters_given():
            return queryset
        return super().filter_queryset(queryset)

    def filters_given(self) -> set[str]:
        params = self.request.query_params
        return {name for name in ServerGroupFilter.base_filters if any(params.getlist(name))}

    def list(self, request):
        """A page of the caller's groups. Unless a filter reads the groups themselves, the total comes
        from the tenants' maintained counts, and a page in the default order from the tenants' indexes
        at offsets those counts give (`listing.server_group_page_ids`): neither grows with the
        number of groups. Otherwise the filtered rows are counted, and the page read from the nearer
        end of the order."""
        given = self.filters_given()
        if given:  # as DjangoFilterBackend does, keeping the parsed values
            filterset = ServerGroupFilter(request.query_params, queryset=self.get_queryset(), request=request)
            if not filterset.is_valid():
                raise translate_validation(filterset.errors)
            queryset, values = filterset.qs, filterset.form.cleaned_data
        if given <= {*TENANT_FILTERS, "o"}:
            narrowing = given - {"o"}
            if narrowing:
                tenants = selectors.tenants_in_scope(user=request.user)
                tenants = tenants.filter(**{TENANT_FILTERS[name]: values[name] for name in narrowing})
                tally = listing.server_group_tally(tenants=tenants)
            else:  # the common case, whose query is compiled once and kept
                tally = fetch_for_user(tally_in_scope, request.user)
            count = sum(groups for _, _, groups in tally)
            if request.method == "HEAD":
                self.paginator.page_bounds(request, count)
                return Response(headers=self.paginator.headers())
            if "o" in given:
                ids = self.paginator.page_of_counted_ids(queryset, request, count)
            else:
                start, stop = self.paginator.page_bounds(request, count)
                ids = listing.server_group_page_ids(tally=tally, start=start, stop=stop)
            return self.get_paginated_response(server_group_responses(request, ids))
        if request.method == "HEAD":
            self.paginator.count_only(queryset, request)
            return Response(headers=self.paginator.headers())
        ids = self.paginator.page_of_counted_ids(queryset, request, queryset.count())
        return self.get_paginated_response(server_group_responses(request, ids))

    def retrieve(self, request, uuid=None):
        return Response(server_group_response(request, self.get_object_pk()))

    def create(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        tenant = self.resolve_tenant(data.pop("tenant", None))
        with transaction.atomic():  # answered as written: the worker is sent the group after this
            group = services.server_group_create(tenant=tenant, actor=request.user, **data)
            body = server_group_response(request, group)
        return Response(body, status=status.HTTP_201_CREATED)

    def resolve_tenant(self, reference: str | None) -> Tenant:
        """The tenant named in the body (400 unless the caller sees it, 403 unless they manage it), or
        else the only tenant in OK the caller manages."""
        user = self.request.user
        if reference:
            tenant_uuid = uuid_from_reference(reference)
            tenants = selectors.tenants_visible_to(user=user)
            tenant = tenants.filter(uuid=tenant_uuid).first() if tenant_uuid else None
            if tenant is None:
                raise exceptions.ValidationError({"tenant": ["Tenant not found. Give a tenant URL or UUID."]})
            self.check_object_permissions(self.request, tenant)
            return tenant
        candidates = list(selectors.tenants_manageable_by(user=user).filter(state=State.OK)[:2])
        if len(candidates) != 1:
            raise exceptions.ValidationError(
                {
                    "tenant": [
                        'Name the tenant: add "tenant" with its URL or UUID, or use '
                        "POST /api/openstack-tenants/{uuid}/create_server_group/."
                    ]
                }
            )
        return candidates[0]

    def update(self, request, uuid=None, partial=False):
        group = self.get_object()
        serializer = self.get_serializer(group, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():  # answered as written: the worker is sent the group after this
            group = services.server_group_update(group=group, actor=request.user, **serializer.validated_data)
            body = server_group_response(request, group)
        return Response(body)

    def partial_update(self, request, uuid=None):
        return self.update(request, uuid, partial=True)

    def destroy(self, request, uuid=None):
        services.server_group_delete(group=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"])
    def pull(self, request, uuid=None):
        services.server_group_pull(group=self.get_object(), actor=request.user)
        return Response({"detail": "Pull operation was successfully scheduled."}, status=status.HTTP_202_ACCEPTED)

    @action(detail=True, methods=["get"])
    def placement(self, request, uuid=None):
        return Response(placement_report(group=self.get_object(), staff=request.user.is_staff))

    @action(detail=True, methods=["post"])
    def heal(self, request, uuid=None):
        group = self.get_object()
        serializer = serializers.HealSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if serializer.validated_data["dry_run"]:  # the plan a heal asked for now would carry out
            facts = heal.Facts(group)
            mending = facts.plan()
            moves = [heal.public_move(entry) for entry in heal.planned_moves(facts, mending)]
            return Response({"placement_status": group.placement_status, "plan": moves, "blocked": mending.blocked})
        running = services.server_group_heal(group=group, actor=request.user)
        body = {"detail": "Heal has been scheduled.", "plan": [heal.public_move(entry) for entry in running.planned]}
        return Response(body, status=status.HTTP_202_ACCEPTED)

    @action(detail=True, methods=["post"])
    def unlink(self, request, uuid=None):
        services.server_group_unlink(group=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"])
    def set_ok(self, request, uuid=None):
        services.server_group_set_ok(group=self.get_object(), actor=request.user)
        return Response({"detail": "Server group state has been set to OK."})

    @action(detail=True, methods=["post"])
    def set_erred(self, request, uuid=None):
        group = self.get_object()
        serializer = serializers.SetErredSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.server_group_set_erred(group=group, actor=request.user, **serializer.validated_data)
        return Response({"detail": "Server group state has been set to erred."})


@tenant_schema
@read_only_schema(serializers.TenantSerializer)
class TenantViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    visible_to = staticmethod(selectors.tenants_visible_to)  # with each tenant's quota usage, for the answer
    acts_on = staticmethod(selectors.tenants_in_scope)  # an action locks and reads its tenant again itself
    serializer_class = serializers.TenantSerializer
    filterset_class = TenantFilter
    action_permissions = {
        **READ,
        "create_server_group": CanManage,
        "pull_server_groups": CanManage,
        "pull_quotas": CanManage,
        "set_quotas": IsStaff,
    }

    @action(detail=True, methods=["post"])
    def create_server_group(self, request, uuid=None):
        tenant = self.get_object()
        serializer = serializers.ServerGroupWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():  # answered as written: the worker is sent the group after this
            group = services.server_group_create(tenant=tenant, actor=request.user, **serializer.validated_data)
            body = server_group_response(request, group)
        return Response(body, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def pull_server_groups(self, request, uuid=None):
        services.tenant_pull_server_groups(tenant=self.get_object(), actor=request.user)
        return Response({"status": "Server groups pull has been scheduled."}, status=status.HTTP_202_ACCEPTED)

    @action(detail=True, methods=["post"])
    def pull_quotas(self, request, uuid=None):
        services.tenant_pull_quotas(tenant=self.get_object(), actor=request.user)
        return Response({"status": "Quotas pull has been scheduled."}, status=status.HTTP_202_ACCEPTED)

    @action(detail=True, methods=["post"])
    def set_quotas(self, request, uuid=None):
        """202 (the published client accepts nothing else), with what Nova now says: the write itself
        is done by the time of the answer."""
        tenant = self.get_object()
        serializer = serializers.SetQuotasSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        tenant = services.tenant_set_quotas(tenant=tenant, actor=request.user, **serializer.validated_data)
        body = {"status": "Quotas have been set in OpenStack.", "quotas": tenant_quotas(tenant)}
        return Response(body, status=status.HTTP_202_ACCEPTED)


@read_only_schema(serializers.InstanceSerializer)
class InstanceViewSet(ReadOnlyViewSet):
    visible_to = staticmethod(selectors.instances_visible_to)
    serializer_class = serializers.InstanceSerializer
    filterset_class = InstanceFilter
