"""Statements the ORM builds once and the database runs again with new values.

A short query's cost in Python is mostly the ORM building and compiling it, and for a read with
`select_related`, turning the rows into model instances: warm, on SQLite, a worker's lease UPDATE
costs 0.4 ms through the ORM and under 0.03 ms run as compiled SQL, and a group's read with its
tenant, cloud, project and customer 0.9 ms against under 0.1. The step that takes a group from
`CREATION_SCHEDULED` to `OK` runs a handful of such statements around Nova's call, so these add up
on the path a client waits on (see docs/performance.md, "From a create to OK").

`update(key, build, **values)` runs `queryset.update(**fields)` for `(queryset, fields) =
build(**values)`, and `first(key, build, **values)` returns the first model instance of
`build(**values)` (its `select_related` included). `key` names the statement's shape: the caller
promises that `build` gives the same SQL for every call with that key, but for the values. The first
call of each shape compiles `build` twice, with two sets of stand-ins in place of the values (ints,
strings and datetimes), and keeps the SQL and the positions where each value goes; later calls put
the values there, adapted as the ORM adapts them, and run it. None, a bool or a member of an enum
(a state) is part of the shape, as is the type of each value; a statement with a value of any other
type (a UUID, a dict) runs through the ORM. A shape whose SQL does not take
each value as itself (a field that encrypts or encodes what it is given) is never compiled: it runs
through the ORM every time, as does anything the check here cannot prove.

Django has no public API for this (prepared statements are a per-connection feature of some
drivers, not of the ORM), so this module stands in for one, for the few statements that need it;
the rest of Cohort uses the ORM as it is. `cohort.core.rows` does the same for the list's reads.
"""

from __future__ import annotations

import datetime
import enum
import logging
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from django.db import connections, router, transaction
from django.db.models import Model, QuerySet
from django.db.models.query import ModelIterable, get_related_populators
from django.db.models.sql import UpdateQuery

_STAND_IN_INT = -(2**62)
_STAND_IN_TIME = (
    datetime.datetime(2001, 2, 3, 4, 5, 6, 7000, tzinfo=datetime.UTC),
    datetime.datetime(2002, 3, 4, 5, 6, 7, 8000, tzinfo=datetime.UTC),
)


@dataclass(frozen=True)
class _Compiled:
    alias: str
    sql: str
    params: tuple
    slots: tuple[tuple[int, str], ...]  # (position in params, name of the value that goes there)
    times: frozenset[str]  # the names of the values that are datetimes (adapted before they go in)
    read: _Read | None = None


@dataclass(frozen=True)
class _Read:
    model: type[Model]
    fields: tuple[int, int]  # the model's own columns: row[start:end]
    init_list: tuple[str, ...]
    converters: tuple[tuple[int, tuple[Callable, ...], Any], ...]
    populators: tuple


logger = logging.getLogger(__name__)

# One entry per shape, a handful in all (each is a statement in Cohort's code, not in its data). Two
# threads that compile a shape at once both store the same thing: no lock, which a fork could copy held.
_cache: dict[Hashable, _Compiled | None] = {}


def update(key: Hashable, build: Callable[..., tuple[QuerySet, dict[str, Any]]], /, **values: Any) -> int:
    """How many rows `queryset.update(**fields)` changed, for `(queryset, fields) = build(**values)`."""
    compiled = _compiled("update", key, build, values)
    if compiled is None:
        queryset, fields = build(**values)
        return queryset.update(**fields)
    with transaction.mark_for_rollback_on_error(using=compiled.alias):
        with connections[compiled.alias].cursor() as cursor:
            cursor.execute(compiled.sql, _params(compiled, values))
            return cursor.rowcount


def first(key: Hashable, build: Callable[..., QuerySet], /, **values: Any) -> Model | None:
    """The first model instance of `build(**values)`, with what its `select_related` names; or None."""
    compiled = _compiled("first", key, build, values)
    if compiled is None:
        return next(iter(build(**values)[:1]), None)
    connection = connections[compiled.alias]
    with connection.cursor() as cursor:
        cursor.execute(compiled.sql, _params(compiled, values))
        row = cursor.fetchone()
    if row is None:
        return None
    read = compiled.read
    row = list(row)
    for position, converters, expression in read.converters:  # as the ORM's results_iter does
        value = row[position]
        for converter in converters:
            value = converter(value, expression, connection)
        row[position] = value
    start, end = read.fields
    obj = read.model.from_db(compiled.alias, read.init_list, row[start:end])
    for populator in read.populators:  # as the ORM's ModelIterable does for select_related
        populator.populate(row, obj)
    return obj


def _params(compiled: _Compiled, values: dict[str, Any]) -> list:
    params = list(compiled.params)
    ops = connections[compiled.alias].ops
    for position, name in compiled.slots:
        value = values[name]
        params[position] = ops.adapt_datetimefield_value(value) if name in compiled.times else value
    return params


def _kind(value: Any) -> type | None:
    """The type of a value that gets a stand-in, or None for one that is part of the shape."""
    kind = type(value)
    return kind if kind in (int, str, datetime.datetime) else None


def _constant(value: Any) -> bool:
    """Whether a value may be part of a shape: one of a few (None, a bool, a member of an enum such as
    a state), so that a caller's values cannot grow the cache without end."""
    return value is None or type(value) is bool or isinstance(value, enum.Enum)


def _compiled(operation: str, key: Hashable, build: Callable, values: dict[str, Any]) -> _Compiled | None:
    kinds = []
    for name, value in values.items():
        if _kind(value) is None and not _constant(value):
            return None  # a UUID, a dict, a list...: the ORM runs it as it is
        kinds.append((name, _kind(value) or ("=", value)))
    shape = (operation, key, *sorted(kinds))
    try:
        return _cache[shape]
    except KeyError:
        pass
    try:
        compiled = _compile(operation, build, values)
    except Exception:  # stand-ins a value's field refuses, say: the ORM runs it with the real values
        logger.debug("statement %r is not compiled once", key, exc_info=True)
        compiled = None
    _cache[shape] = compiled
    return compiled


def _stand_ins(values: dict[str, Any], which: int) -> dict[str, Any]:
    stand_ins = {}
    for index, (name, value) in enumerate(sorted(values.items())):
        kind = _kind(value)
        if kind is int:
            stand_ins[name] = _STAND_IN_INT + 2 * index + which
        elif kind is str:
            stand_ins[name] = f"stand-in {index} {which}"
        elif kind is datetime.datetime:
            stand_ins[name] = _STAND_IN_TIME[which] + datetime.timedelta(seconds=index)
        else:
            stand_ins[name] = value
    return stand_ins


def _compile(operation: str, build: Callable, values: dict[str, Any]) -> _Compiled | None:
    compiled = []
    stand_ins = (_stand_ins(values, 0), _stand_ins(values, 1))
    for which in (0, 1):
        built = build(**stand_ins[which])
        made = _update_sql(*built) if operation == "update" else _read_sql(built)
        if made is None:
            return None
        compiled.append(made)
    (alias, sql, params, read), (other_alias, other_sql, other_params, _) = compiled
    if (alias, sql) != (other_alias, other_sql) or len(params) != len(other_params):
        return None
    ops = connections[alias].ops
    variables = [name for name, value in values.items() if _kind(value) is not None]

    def adapted(name: str, which: int) -> Any:
        value = stand_ins[which][name]
        return ops.adapt_datetimefield_value(value) if type(value) is datetime.datetime else value

    slots = []
    for position, (one, other) in enumerate(zip(params, other_params, strict=True)):
        if one == other:
            continue
        name = next((name for name in variables if (adapted(name, 0), adapted(name, 1)) == (one, other)), None)
        if name is None:  # a value the ORM changed on its way in: this shape stays with the ORM
            return None
        slots.append((position, name))
    if {name for _, name in slots} != set(variables):  # a value that did not reach the SQL as itself
        return None
    times = frozenset(name for name in variables if _kind(values[name]) is datetime.datetime)
    return _Compiled(alias, sql, tuple(params), tuple(slots), times, read)


def _update_sql(queryset: QuerySet, fields: dict[str, Any]) -> tuple | None:
    """What `queryset.update(**fields)` runs (QuerySet.update without its inlining of ordering)."""
    if queryset.query.is_sliced or queryset.query.combinator or queryset.query.order_by:
        return None
    query = queryset.query.chain(UpdateQuery)
    query.add_update_values(fields)
    query.clear_select_clause()
    alias = router.db_for_write(queryset.model)
    sql, params = query.get_compiler(alias).as_sql()
    if not sql or query.related_updates:
        return None
    return alias, sql, tuple(params), None


def _read_sql(queryset: QuerySet) -> tuple | None:
    """The SQL of `queryset` and how to make its rows into instances, as Django's ModelIterable does."""
    if queryset._iterable_class is not ModelIterable or queryset._known_related_objects:
        return None
    alias = queryset.db
    query = queryset.query.chain()
    query.set_limits(high=1)
    compiler = query.get_compiler(alias)
    sql, params = compiler.as_sql()
    if compiler.annotation_col_map or compiler.has_extra_select:
        return None
    select, klass_info = compiler.select, compiler.klass_info
    start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
    converters = compiler.get_converters([column[0] for column in select[: compiler.col_count]])
    read = _Read(
        model=klass_info["model"],
        fields=(start, end),
        init_list=tuple(column[0].target.attname for column in select[start:end]),
        converters=tuple((position, tuple(funcs), expression) for position, (funcs, expression) in converters.items()),
        populators=tuple(get_related_populators(klass_info, select, alias)),
    )
    return alias, sql, tuple(params), read
