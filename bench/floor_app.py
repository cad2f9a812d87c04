"""The floor: a bare WSGI app that answers the same page with one SQL query for the groups, one for
their members, and json.dumps, with no framework, no authentication and no scoping.

Served by the same gunicorn as Cohort in `bench/list_page.py`, so both pay the same HTTP costs.
Configured by BENCH_DATABASE (a SQLite path, or a postgres:// URL).
"""

import json
import os

DATABASE = os.environ["BENCH_DATABASE"]
PAGE_SQL = """
SELECT g.id, g.uuid, g.name, g.description, g.state, g.error_message, g.error_traceback, g.created,
       g.modified, g.backend_id, g.policy, g.rules, t.uuid, t.name, s.uuid, s.name, s.state, s.error_message,
       p.uuid, p.name, c.uuid, c.name, c.native_name, c.abbreviation
FROM openstack_servergroup g
JOIN openstack_tenant t ON t.id = g.tenant_id
JOIN structure_servicesettings s ON s.id = t.service_settings_id
JOIN structure_project p ON p.id = t.project_id
JOIN structure_customer c ON c.id = p.customer_id
ORDER BY t.name, g.name LIMIT 50 OFFSET 100
"""
KEYS = (
    "id uuid name description state error_message error_traceback created modified backend_id policy rules "
    "tenant_uuid tenant_name service_settings_uuid service_name service_settings_state "
    "service_settings_error_message project_uuid project_name customer_uuid customer_name customer_native_name "
    "customer_abbreviation"
).split()

if DATABASE.startswith("postgres"):
    import psycopg

    connection = psycopg.connect(DATABASE, autocommit=True)
    MARK = "%s"
else:
    import sqlite3

    connection = sqlite3.connect(DATABASE, check_same_thread=False)
    MARK = "?"


def page() -> bytes:
    cursor = connection.cursor()
    cursor.execute(PAGE_SQL)
    rows = [dict(zip(KEYS, row, strict=True)) for row in cursor.fetchall()]
    ids = [row["id"] for row in rows]
    cursor.execute(
        "SELECT server_group_id, backend_id, name, uuid FROM openstack_instance "
        f"WHERE server_group_id IN ({','.join([MARK] * len(ids))}) ORDER BY name",
        ids,
    )
    members: dict[int, list] = {}
    for group_id, backend_id, name, member_uuid in cursor.fetchall():
        members.setdefault(group_id, []).append({"backend_id": backend_id, "name": name, "uuid": str(member_uuid)})
    for row in rows:
        row["instances"] = members.get(row["id"], [])
    return json.dumps(rows, default=str).encode()


def application(environ, start_response):
    body = page()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
