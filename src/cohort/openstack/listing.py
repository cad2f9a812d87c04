"""The server group list at scale (issue 10): its total and its default-order page, from the tenants'
maintained group counts (`ServerGroupTally`, kept by triggers), so that neither grows with the number of
groups. Reads only: the tenants come from a selector (`selectors.tenants_in_scope`, then any filter on
them), so what a caller sees is decided there.
"""

from __future__ import annotations

import functools
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
    return list(tally_query(tenants=tenants))


def tally_query(*, tenants: QuerySet[Tenant]) -> QuerySet:
    """The query of `server_group_tally`, rows (pk, name, groups) that need no converter, for a caller
    that keeps it compiled (`cohort.core.rows.fetch_for_user`)."""
    counted = tenants.annotate(groups=Coalesce("server_group_tally__groups", 0))
    return counted.order_by("name", "pk").values_list("pk", "name", "groups")


# A slice no page has, to find the compiled LIMIT and OFFSET by
STAND_IN_SLICE = (1_234_567, 1_234_567 + 7_654_321)


@functools.lru_cache(maxsize=512)
def _part_sql(alias: str, tenants: int, backwards: bool) -> str:
    """The SQL of one run's slice, compiled once per (number of tenants, direction): the ids and
    names of the groups of `tenants` tenants (its first parameters), in the run's order or its reverse,
    with LIMIT and OFFSET its last two parameters."""
    placeholders = list(range(1, tenants + 1))
    groups = ServerGroup.objects.using(alias).filter(tenant_id__in=placeholders)
    # a name is unique within its tenant: one tenant's order is its index's (tenant, name)
    order = ["name"] if tenants == 1 else ["name", "pk"]
    low, high = STAND_IN_SLICE
    groups = groups.order_by(*(f"-{key}" for key in order) if backwards else order)[low:high]
    sql, params = groups.values("id", "name").query.sql_with_params()
    compiled_slice = connections[alias].ops.limit_offset_sql(low, high)
    assert list(params) == placeholders and sql.endswith(f" {compiled_slice}"), (sql, params)
    return f"{sql[: -len(compiled_slice)]}LIMIT %s OFFSET %s"


def server_group_page_ids(*, tally: Tally, start: int, stop: int) -> list[int]:
    """The primary keys of the groups at positions [start, stop) of the default order (tenant name,
    name, pk) among the tenants of `tally`, in that order: one query, whose cost does not grow with
    the number of groups.

    The groups of tenants sharing a name are contiguous in that order, and `tally` says how many
    each holds, so the page falls in known tenants at known offsets: each such run of tenants is read
    through the (tenant, name) index from its nearer end (a last page walks back a few rows, not
    forward a million), and the parts are put together in one UNION ALL.
    """
    alias = ServerGroup.objects.db
    parts: list[tuple[str, list]] = []
    begin = 0
    for _, run in groupby(tally, key=lambda row: row[1]):
        run = list(run)
        held = sum(groups for _, _, groups in run)
        low, high = max(start - begin, 0), min(stop - begin, held)
        if low < high:
            pks = [pk for pk, _, _ in run]
            backwards = low > held - high
            first, last = (held - high, held - low) if backwards else (low, high)
            parts.append((_part_sql(alias, len(pks), backwards), [*pks, last - first, first]))
        begin += held
        if begin >= stop:
            break
    if not parts:
        return []
    selects, params = [], []
    for number, (sql, part_params) in enumerate(parts):
        selects.append(f"SELECT {number} AS part, id, name FROM ({sql}) AS part{number}")
        params.extend(part_params)
    sql = f"SELECT id FROM ({' UNION ALL '.join(selects)}) AS page ORDER BY part, name, id"
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        return [pk for (pk,) in cursor.fetchall()]
