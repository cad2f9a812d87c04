"""The floor: a bare WSGI app that answers the same page with one SQL query for the groups, one for
their members, and json.dumps, with no framework, no authentication and no scoping (or, with
BENCH_FLOOR=issue, issue 10's floor: a COUNT, one query with the members aggregated in SQL, orjson). It reads the
same columns as Cohort (the declared ones) and dumps them as they are, without the wire's links.

Served by the same gunicorn as Cohort in `bench/list_page.py`, so both pay the same HTTP costs.
Configured by BENCH_DATABASE (a SQLite path, or a postgres:// URL).
"""

import json
import os

import orjson

DATABASE = os.environ["BENCH_DATABASE"]
# Written by bench/list_page.py from Cohort's declaration of the server group (`wire.SERVER_GROUP`):
# the page's SELECT (its joins, ordering and LIMIT, compiled once by Django) and the member columns.
PAGE_SQL = os.environ["BENCH_PAGE_SQL"]
PAGE_PARAMS = json.loads(os.environ.get("BENCH_PAGE_PARAMS", "[]"))
KEYS = os.environ["BENCH_COLUMNS"].split()
MEMBER_COLUMNS = os.environ["BENCH_MEMBER_COLUMNS"].split()
FLOOR = os.environ.get("BENCH_FLOOR", "two-queries")
COUNT_SQL = os.environ.get("BENCH_COUNT_SQL", "")

if DATABASE.startswith("postgres"):
    import psycopg

    connection = psycopg.connect(DATABASE, autocommit=True)
    MARK = "%s"
else:
    import sqlite3

    connection = sqlite3.connect(DATABASE, check_same_thread=False)
    MARK = "?"
    PAGE_SQL = PAGE_SQL.replace("%s", "?")  # Django's placeholders are sqlite3's `?`


def page() -> bytes:
    return issue_page() if FLOOR == "issue" else two_queries_page()


def issue_page() -> bytes:
    """Issue 10's floor: one COUNT, then the page with each group's members aggregated to JSON by the
    database (embedded as they are), orjson."""
    cursor = connection.cursor()
    cursor.execute(COUNT_SQL)
    (total,) = cursor.fetchone()
    cursor.execute(PAGE_SQL, PAGE_PARAMS)
    rows = []
    for *values, members in cursor.fetchall():
        row = dict(zip(KEYS, values, strict=True))
        row["instances"] = orjson.Fragment(members or "[]")
        rows.append(row)
    return orjson.dumps({"count": total, "results": rows}, default=str)


def two_queries_page() -> bytes:
    cursor = connection.cursor()
    cursor.execute(PAGE_SQL, PAGE_PARAMS)
    rows = [dict(zip(KEYS, row, strict=True)) for row in cursor.fetchall()]
    ids = [row["id"] for row in rows]
    cursor.execute(
        f"SELECT server_group_id, {', '.join(MEMBER_COLUMNS)} FROM openstack_instance "
        f"WHERE server_group_id IN ({','.join([MARK] * len(ids))}) ORDER BY name",
        ids,
    )
    members: dict[int, list] = {}
    for group_id, *values in cursor.fetchall():
        members.setdefault(group_id, []).append(dict(zip(MEMBER_COLUMNS, values, strict=True)))
    for row in rows:
        row["instances"] = members.get(row["id"], [])
    return json.dumps(rows, default=str).encode()


def application(environ, start_response):
    body = page()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
