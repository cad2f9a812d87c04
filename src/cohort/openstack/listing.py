"""The server group list at scale (issue 10): its total and its default-order page, from the tenants'
maintained group counts (`ServerGroupTally`, kept by triggers), so that neither grows with the number of
groups. Reads only: the tenants come from a selector (`selectors.tenants_in_scope`, then any filter on
them), so what a caller sees is decided there.
"""

from __future__ import annotations

from itertools import groupby

from django.db import connections
from django.db.models import QuerySet
from django.db.models.functions import Coalesce

from cohort.openstack.models import ServerGroup, Tenant

# (tenant pk, tenant name, how many groups it holds), in the list's order of tenants
Tally = list[tuple[int, str, int]]


def server_group_tally(*, tenants: QuerySet[Tenant]) -> Tally:
    """The maintained group counts (`ServerGroupTally`) of `tenants`, in the order of the list (tenant
    name, then pk): one query over the tenants, none over the groups."""
    counted = tenants.annotate(groups=Coalesce("server_group_tally__groups", 0))
    return list(counted.order_by("name", "pk").values_list("pk", "name", "groups"))


def server_group_page_ids(*, tally: Tally, start: int, stop: int) -> list[int]:
    """The primary keys of the groups at positions [start, stop) of the default order (tenant name,
    name, pk) among the tenants of `tally`, in that order: one query, whose cost does not grow with
    the number of groups.

    The groups of tenants sharing a name are contiguous in that order, and `tally` says how many
    each holds, so the page falls in known tenants at known offsets: each such run of tenants is read
    through the (tenant, name) index from its nearer end (a last page walks back a few rows, not
    forward a million), and the parts are put together in one UNION ALL.
    """
    parts: list[QuerySet] = []
    begin = 0
    for _, run in groupby(tally, key=lambda row: row[1]):
        run = list(run)
        held = sum(groups for _, _, groups in run)
        low, high = max(start - begin, 0), min(stop - begin, held)
        if low < high:
            pks = [pk for pk, _, _ in run]
            groups = ServerGroup.objects.filter(tenant_id__in=pks)
            # a name is unique within its tenant: one tenant's order is its index's (tenant, name)
            order = ["name"] if len(pks) == 1 else ["name", "pk"]
            if low > held - high:
                groups = groups.order_by(*(f"-{key}" for key in order))[held - high : held - low]
            else:
                groups = groups.order_by(*order)[low:high]
            parts.append(groups.values("id", "name"))
        begin += held
        if begin >= stop:
            break
    if not parts:
        return []
    selects, params = [], []
    for number, part in enumerate(parts):
        sql, part_params = part.query.sql_with_params()
        selects.append(f"SELECT {number} AS part, id, name FROM ({sql}) AS part{number}")
        params.extend(part_params)
    sql = f"SELECT id FROM ({' UNION ALL '.join(selects)}) AS page ORDER BY part, name, id"
    with connections[ServerGroup.objects.db].cursor() as cursor:
        cursor.execute(sql, params)
        return [pk for (pk,) in cursor.fetchall()]
