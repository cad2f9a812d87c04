"""What `/metrics` exposes: the figures of every process (from their files, or this process's own
when it keeps none), and what the database knows, computed at scrape time."""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.metrics_core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from cohort.core.states import State
from cohort.metrics import processes

logger = logging.getLogger(__name__)


class ProcessFilesCollector:
    """Every process's files under METRICS_DIR, of every command, added up."""

    def collect(self):
        files = [str(path) for path in Path(settings.METRICS_DIR).glob("*/*.db")]
        return MultiProcessCollector.merge(files, accumulate=True)


class ThisProcessCollector:
    def collect(self):
        return REGISTRY.collect()


class DatabaseCollector:
    """Server groups by state and by placement verdict (one GROUP BY each), the reconciliation lag
    of each cloud: the age of
    the oldest last successful pull among its tenants (from /health/ready's query), and each tenant's
    quotas, limit and usage (one query; a limit the cloud has not reported is left out, -1 is
    unlimited). Tenants are labelled by uuid (names need not be unique) and by name."""

    def collect(self):
        try:
            families = list(self.families())
        except DatabaseError:  # the database is away: the processes' own figures are still served
            logger.warning("metrics: the database did not answer; its figures are left out of this scrape")
            return []
        return families

    def families(self):
        from cohort.health.checks import cloud_reconciliation
        from cohort.openstack.models import ServerGroup

        groups = GaugeMetricFamily("cohort_server_groups", "Server groups, by state", labels=["state"])
        counts = dict(ServerGroup.objects.order_by().values_list("state").annotate(n=Count("pk")))
        for state in State.values:
            groups.add_metric([state], counts.get(state, 0))
        yield groups
        placements = GaugeMetricFamily(
            "cohort_server_group_placements", "Server groups, by placement verdict", labels=["placement_status"]
        )
        counts = dict(ServerGroup.objects.order_by().values_list("placement_status").annotate(n=Count("pk")))
        for verdict in ServerGroup.PlacementStatus.values:
            placements.add_metric([verdict], counts.get(verdict, 0))
        yield placements
        blocked = GaugeMetricFamily(
            "cohort_server_groups_heal_blocked",
            "Degraded or violated server groups whose plan cannot mend them (as the last reconciliation found)",
        )
        blocked.add_metric([], ServerGroup.objects.filter(plan_blocked=True).count())
        yield blocked
        lag = GaugeMetricFamily(
            "cohort_reconciliation_lag_seconds",
            "Age of the oldest last successful pull among a cloud's tenants (a tenant never pulled: since it was made)",
            labels=["cloud"],
        )
        for cloud in cloud_reconciliation():
            if cloud["lag_seconds"] is not None:
                lag.add_metric([cloud["name"]], cloud["lag_seconds"])
        yield lag
        yield from _tenant_quotas()


def _tenant_quotas():
    from cohort.openstack.models import Tenant
    from cohort.openstack.quotas import QUOTAS, with_quota_usage

    labels = ["tenant", "tenant_name", "quota"]
    limits = GaugeMetricFamily(
        "cohort_tenant_quota_limit", "A tenant's quota limit in Nova (-1: unlimited)", labels=labels
    )
    usages = GaugeMetricFamily("cohort_tenant_quota_usage", "A tenant's use of its quota", labels=labels)
    fields = [field for limit, usage, _ in QUOTAS.values() for field in (limit, usage)]
    for row in with_quota_usage(Tenant.objects.order_by("pk")).values("uuid", "name", *fields):
        for name, (limit, usage, _) in QUOTAS.items():
            series = [row["uuid"].hex, row["name"], name]
            if row[limit] is not None:
                limits.add_metric(series, row[limit])
            usages.add_metric(series, row[usage])
    yield limits
    yield usages


def registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ProcessFilesCollector() if processes.enabled() else ThisProcessCollector())
    registry.register(DatabaseCollector())
    return registry
