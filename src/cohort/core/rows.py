"""Rows for the read path, straight from the database cursor.

`fetch_in` returns plain tuples for the rows whose `field` is in a list of values. Its SQL is built
by the ORM once per (model, columns, list length) and kept, so a request pays neither for compiling
a 24-column join nor for the per-value converters that would turn every UUID, datetime and JSON
column into a Python object only for the renderer to turn it back into text. On a page of 50 groups
those two costs were larger than the SQL itself (see bench/list_page.py). The `wire_*` functions
accept both what a converter-less cursor returns (text, on SQLite) and the driver's own types
(PostgreSQL), so the same code serves every supported database.

`fetch_for_user` does the same for a query that depends on who asks (a scoped read): its SQL is
compiled once per kind of user (staff or not) for a stand-in, and the caller's primary key put where
the stand-in's was.
"""

from __future__ import annotations

import datetime
import functools
import uuid
from collections.abc import Callable, Sequence

import orjson
from django.db import connection, connections
from django.db.models import QuerySet
from psycopg.types.string import TextLoader

from cohort.core import statements


@functools.lru_cache(maxsize=2048)
def _compiled(model, columns: tuple[str, ...], field: str, length: int, order_by: tuple[str, ...]) -> str:
    placeholders = list(range(1, length + 1))
    query = model._default_manager.filter(**{f"{field}__in": placeholders}).order_by(*order_by)
    sql, params = query.values_list(*columns).query.get_compiler(connection=connection).as_sql()
    # The SQL must take exactly the list's values as its parameters, in order, and nothing else.
    assert list(params) == placeholders, (sql, params)
    return sql


def fetch_in(model, columns: tuple[str, ...], field: str, values: Sequence, order_by: tuple[str, ...] = ()) -> list:
    """Rows (tuples of `columns`) of `model` whose `field` is one of `values`."""
    if not values:
        return []
    sql = _compiled(model, columns, field, len(values), order_by)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            _as_text(cursor.cursor)
        cursor.execute(sql, list(values))
        return cursor.fetchall()


def _as_text(cursor) -> None:
    """Have a psycopg cursor hand over UUID and timestamptz columns as PostgreSQL writes them, when that
    is the wire's form but for a dash or a suffix (`wire_uuid`, `wire_datetime`): parsing each value
    into a Python object only for the renderer to write it back costs more than the page's SQL. Only
    in UTC with ISO dates, the settings Cohort's connections run with (else the types stay)."""
    info = cursor.connection.info
    if info.parameter_status("TimeZone") == "UTC" and (info.parameter_status("DateStyle") or "").startswith("ISO"):
        cursor.adapters.register_loader("uuid", TextLoader)
        cursor.adapters.register_loader("timestamptz", TextLoader)


# Primary keys no user has (the database never hands out a negative one), and UUIDs no row is given
# (version 4 UUIDs have 4 in their 13th digit), for compiling a query once.
STAND_INS = (-(2**62) + 1, -(2**62) + 2)
STAND_IN_KEYS = (uuid.UUID("5a5a5a5a-5a5a-0a5a-8a5a-5a5a5a5a5a51"), uuid.UUID("5a5a5a5a-5a5a-0a5a-8a5a-5a5a5a5a5a52"))


@functools.lru_cache(maxsize=256)
def _compiled_for(build: Callable[..., QuerySet], staff: bool, keyed: bool) -> tuple[str, str, tuple, tuple, tuple]:
    """(database alias, SQL, parameters, positions of the user's pk in them, positions of the key) of
    `build(user=...)`, or with `keyed` of `build(user=..., key=<a UUID>)`."""
    compiled = []
    for pk, key in zip(STAND_INS, STAND_IN_KEYS, strict=True):
        # each stand-in's text differs too, so that a query reading the user's name is caught below
        stand_in = statements.user_stand_in(pk, staff=staff)
        queryset = build(user=stand_in, key=key) if keyed else build(user=stand_in)
        sql, params = queryset.query.sql_with_params()
        compiled.append((queryset.db, sql, tuple(params)))
    (alias, sql, params), (_, other_sql, other_params) = compiled
    # The query must depend on the user only through their kind and pk, and on the key only as a
    # parameter: the same SQL for both stand-ins, whose parameters differ exactly where each one's
    # pk or key is (a UUID, or its hex digits where the database stores them as text).
    assert sql == other_sql and len(params) == len(other_params), (sql, other_sql)
    positions = tuple(i for i, value in enumerate(params) if value == STAND_INS[0])
    key_pairs = (STAND_IN_KEYS, tuple(key.hex for key in STAND_IN_KEYS))  # as UUIDs, or as text
    key_positions = tuple(i for i, value in enumerate(params) if value in (pair[0] for pair in key_pairs))
    assert all(
        (params[i], other_params[i]) in (STAND_INS, *key_pairs)
        if i in positions + key_positions
        else params[i] == other_params[i]
        for i in range(len(params))
    ), (params, other_params)
    assert keyed == bool(key_positions), (keyed, params)
    return alias, sql, params, positions, key_positions


def fetch_for_user(build: Callable[..., QuerySet], user, key: uuid.UUID | None = None) -> list:
    """The rows (tuples) of `build(user=user)`, a function of the user that returns a `values_list`
    query whose shape depends only on whether the user is staff, and whose values need no converter;
    with `key`, of `build(user=user, key=key)`, which puts the UUID `key` in a filter. Compiled once per
    kind of user; a user who is not signed in gets `build` as it is."""
    keyed = key is not None
    if not (getattr(user, "is_authenticated", False) and user.is_active and user.pk is not None):
        return list(build(user=user, key=key) if keyed else build(user=user))
    alias, sql, params, positions, key_positions = _compiled_for(build, bool(user.is_staff), keyed)
    values = list(params)
    for i in positions:
        values[i] = user.pk
    for i in key_positions:
        values[i] = key.hex if type(params[i]) is str else key
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, values)
        return cursor.fetchall()


def wire_uuid(value: str | uuid.UUID) -> str:
    """32 lowercase hex digits (SQLite already stores UUIDs that way; PostgreSQL's text has dashes)."""
    return value.replace("-", "") if type(value) is str else value.hex


def wire_datetime(value: str | datetime.datetime) -> str | datetime.datetime:
    """ISO 8601 in UTC with a Z, microseconds in six digits when there are any. Text is SQLite's
    (`2026-01-02 03:04:05.600000`, naive UTC) or PostgreSQL's in UTC (`2026-01-02 03:04:05.6+00`, the
    fraction trimmed of its zeros). A datetime (aware from PostgreSQL, naive UTC from SQLite's own
    converter) is left for the renderer, which writes that form (orjson's OPT_UTC_Z, OPT_NAIVE_UTC)."""
    if type(value) is str:
        if value[-3:] == "+00":
            value = value[:-3]
            point = value.rfind(".")
            if point != -1:
                value = value.ljust(point + 7, "0")
        return value.replace(" ", "T", 1) + "Z"
    return value


def wire_json(value: str | dict | None):
    """A JSON column as stored: already JSON text, embedded as is by orjson."""
    if value is None:
        return {}
    return orjson.Fragment(value) if type(value) is str else value
