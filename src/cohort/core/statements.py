"""Statements the ORM builds once and the database runs again with new values.

A short query's cost in Python is mostly the ORM building and compiling it, and for a read with
`select_related`, turning the rows into model instances: warm, on SQLite, a worker's lease UPDATE
costs 0.4 ms through the ORM and under 0.03 ms run as compiled SQL, and a group's read with its
tenant, cloud, project and customer 0.9 ms against under 0.1. A create's POST up to its commit and
the step that takes the group to `OK` run a dozen such statements on the path a client waits on, so
those use this module (see docs/performance.md, "From a create to OK"); the rest of Cohort uses the
ORM as it is.

`update(key, build, **values)` runs `queryset.update(**fields)` for `(queryset, fields) =
build(**values)`; `first(key, build, **values)` returns the first model instance of
`build(**values)`, with its `select_related` rows and annotations, or None. `key` names the shape:
the caller promises that `build` makes the same SQL at every call with that key but for the values,
so `build` must not branch on a value nor run a query of its own. The first call of a shape
compiles `build` twice, with two sets of stand-ins in place of the values (ints, strings,
datetimes, UUIDs), and keeps the SQL and where each value goes, in the form the ORM gave it (a
datetime as text on SQLite, a UUID as its hex digits); later calls put their values there and run
it. None, a bool or a member of an enum (a state) is part of the shape, as is each value's type. A
statement with a value of any other type (a dict, a list), or whose SQL does not take each value as
itself (a `name__contains`, a field that encodes what it is given), runs through the ORM every time,
as does anything else this check cannot prove.

Django has no public API for this (prepared statements are a feature of some drivers, per
connection, not of the ORM), so this module stands in for one. `cohort.core.rows` does the same for
the list's reads, which need rows rather than instances.
"""

from __future__ import annotations

import datetime
import enum
import logging
import uuid
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import DatabaseError, connections, router, transaction
from django.db.models import Model, QuerySet
from django.db.models.query import ModelIterable, get_related_populators
from django.db.models.sql import UpdateQuery

_STAND_IN_INT = -(2**62)  # no row has a negative primary key
_STAND_IN_TIME = (
    datetime.datetime(2001, 2, 3, 4, 5, 6, 7000, tzinfo=datetime.UTC),
    datetime.datetime(2002, 3, 4, 5, 6, 7, 8000, tzinfo=datetime.UTC),
)
_STAND_IN_UUID = uuid.UUID("5a5a5a5a-5a5a-0a5a-8a5a-5a5a5a5a0000")  # version 0: no row is given one


def _as_is(value: Any, ops: Any) -> Any:
    return value


def _as_datetime(value: datetime.datetime, ops: Any) -> Any:
    return ops.adapt_datetimefield_value(value)  # text on SQLite, the datetime itself on PostgreSQL


def _as_hex(value: uuid.UUID, ops: Any) -> str:
    return value.hex  # a UUID column on a database without a UUID type (SQLite)


# The forms in which the ORM may pass a value of each kind to the database.
_FORMS: dict[type, tuple[Callable, ...]] = {
    int: (_as_is,),
    str: (_as_is,),
    datetime.datetime: (_as_datetime,),
    uuid.UUID: (_as_is, _as_hex),
}


@dataclass(frozen=True)
class _Compiled:
    alias: str
    sql: str
    params: tuple
    # (position in params, name of the value that goes there, the form it takes: see _FORMS)
    slots: tuple[tuple[int, str, Callable], ...]
    read: _Read | None = None


@dataclass(frozen=True)
class _Read:
    model: type[Model]
    fields: tuple[int, int]  # the model's own columns: row[start:end]
    init_list: tuple[str, ...]
    converters: tuple[tuple[int, tuple[Callable, ...], Any], ...]
    populators: tuple
    annotations: tuple[tuple[str, int], ...]  # (attribute, column)


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
    for name, position in read.annotations:
        setattr(obj, name, row[position])
    return obj


def user_stand_in(pk: int, *, staff: bool) -> Model:
    """A user to build a scoped statement with (`build(user_pk, ...)` makes one from its `user_pk`):
    signed in, active, staff or not (so part of the key), and with every text field naming its pk, so
    that a statement that reads anything of the user but its pk and kind is never compiled."""
    user_model = get_user_model()
    texts = [f.attname for f in user_model._meta.concrete_fields if f.get_internal_type() in ("CharField", "TextField")]
    return user_model(pk=pk, is_staff=staff, is_active=True, **{name: f"stand-in {pk}" for name in texts})


def _params(compiled: _Compiled, values: dict[str, Any]) -> list:
    params = list(compiled.params)
    ops = connections[compiled.alias].ops
    for position, name, form in compiled.slots:
        params[position] = form(values[name], ops)
    return params


def _kind(value: Any) -> type | None:
    """The type of a value that gets a stand-in, or None for one that is part of the shape."""
    kind = type(value)
    return kind if kind in _FORMS else None


def _constant(value: Any) -> bool:
    """Whether a value may be part of a shape: one of a few (None, a bool, a member of an enum such as
    a state), so that a caller's values cannot grow the cache without end."""
    return value is None or type(value) is bool or isinstance(value, enum.Enum)


def _compiled(operation: str, key: Hashable, build: Callable, values: dict[str, Any]) -> _Compiled | None:
    kinds = []
    for name, value in values.items():
        if _kind(value) is None and not _constant(value):
            return None  # a dict, a list, a Decimal...: the ORM runs it as it is
        kinds.append((name, _kind(value) or ("=", value)))
    shape = (operation, key, *sorted(kinds))
    try:
        return _cache[shape]
    except KeyError:
        pass
    try:
        compiled = _compile(operation, build, values)
    except DatabaseError:  # the database away, or a lock outside a transaction: the ORM says so; try again next time
        return None
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
        elif kind is uuid.UUID:
            stand_ins[name] = uuid.UUID(int=_STAND_IN_UUID.int + 2 * index + which)
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
    slots = []
    for position, (one, other) in enumerate(zip(params, other_params, strict=True)):
        if one == other:
            continue
        found = [
            (position, name, form)
            for name in variables
            for form in _FORMS[_kind(values[name])]
            if (form(stand_ins[0][name], ops), form(stand_ins[1][name], ops)) == (one, other)
        ]
        if len(found) != 1:  # a value the ORM changed on its way in: this shape stays with the ORM
            return None
        slots.extend(found)
    # A value that appears nowhere is one the statement does not read (a staff user's pk, say).
    return _Compiled(alias, sql, tuple(params), tuple(slots), read)


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
    if compiler.has_extra_select:
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
        annotations=tuple((compiler.annotation_col_map or {}).items()),
    )
    return alias, sql, tuple(params), read
