"""Rows for the read path, straight from the database cursor.

`fetch_in` returns plain tuples for the rows whose `field` is in a list of values. Its SQL is built
by the ORM once per (model, columns, list length) and kept, so a request pays neither for compiling
a 24-column join nor for the per-value converters that would turn every UUID, datetime and JSON
column into a Python object only for the renderer to turn it back into text. On a page of 50 groups
those two costs were larger than the SQL itself (see bench/list_page.py). The `wire_*` functions
accept both what a converter-less cursor returns (text, on SQLite) and the driver's own types
(PostgreSQL), so the same code serves every supported database.
"""

from __future__ import annotations

import datetime
import functools
import uuid
from collections.abc import Sequence

import orjson
from django.db import connection


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
        cursor.execute(sql, list(values))
        return cursor.fetchall()


def wire_uuid(value: str | uuid.UUID) -> str:
    """32 lowercase hex digits (SQLite already stores UUIDs that way)."""
    return value if type(value) is str else value.hex


def wire_datetime(value: str | datetime.datetime) -> str | datetime.datetime:
    """ISO 8601 in UTC with a Z. A datetime (aware from PostgreSQL, naive UTC from SQLite's own
    converter) is left for the renderer, which writes that form (orjson's OPT_UTC_Z, OPT_NAIVE_UTC)."""
    if type(value) is str:
        return value.replace(" ", "T", 1) + "Z"
    return value


def wire_json(value: str | dict | None):
    """A JSON column as stored: already JSON text, embedded as is by orjson."""
    if value is None:
        return {}
    return orjson.Fragment(value) if type(value) is str else value
