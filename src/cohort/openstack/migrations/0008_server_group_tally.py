"""The list at a million groups (issue 10): per-tenant group counts kept by triggers, an index on
`state`, and (PostgreSQL) a trigram index for the `name` substring filter.

The counts are written by the database, in the transaction of each change to the server group table,
so no code path (ORM, bulk_create, queryset.delete, COPY) can leave them wrong. PostgreSQL counts per
statement (transition tables: one UPDATE for a COPY of a million rows); SQLite per row. The table is
locked while the existing groups are counted, so that the count starts exact.
"""

from django.db import migrations, models

GROUPS = "openstack_servergroup"
TALLY = "openstack_servergrouptally"

POSTGRESQL = [
    f"""
    CREATE FUNCTION cohort_server_groups_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO {TALLY} AS tally (tenant_id, groups)
        SELECT tenant_id, COUNT(*) FROM inserted_rows GROUP BY tenant_id ORDER BY tenant_id
        ON CONFLICT (tenant_id) DO UPDATE SET groups = tally.groups + EXCLUDED.groups;
        RETURN NULL;
    END $$
    """,
    f"""
    CREATE TRIGGER server_groups_inserted AFTER INSERT ON {GROUPS}
    REFERENCING NEW TABLE AS inserted_rows FOR EACH STATEMENT EXECUTE FUNCTION cohort_server_groups_inserted()
    """,
    f"""
    CREATE FUNCTION cohort_server_groups_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE {TALLY} AS tally SET groups = tally.groups - gone.n
        FROM (SELECT tenant_id, COUNT(*) AS n FROM deleted_rows GROUP BY tenant_id) AS gone
        WHERE tally.tenant_id = gone.tenant_id;
        RETURN NULL;
    END $$
    """,
    f"""
    CREATE TRIGGER server_groups_deleted AFTER DELETE ON {GROUPS}
    REFERENCING OLD TABLE AS deleted_rows FOR EACH STATEMENT EXECUTE FUNCTION cohort_server_groups_deleted()
    """,
    f"""
    CREATE FUNCTION cohort_server_group_moved() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE {TALLY} SET groups = groups - 1 WHERE tenant_id = OLD.tenant_id;
        INSERT INTO {TALLY} AS tally (tenant_id, groups) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET groups = tally.groups + 1;
        RETURN NULL;
    END $$
    """,
    f"""
    CREATE TRIGGER server_group_moved AFTER UPDATE OF tenant_id ON {GROUPS} FOR EACH ROW
    WHEN (OLD.tenant_id IS DISTINCT FROM NEW.tenant_id) EXECUTE FUNCTION cohort_server_group_moved()
    """,
    f"LOCK TABLE {GROUPS} IN SHARE MODE",
    f"INSERT INTO {TALLY} (tenant_id, groups) SELECT tenant_id, COUNT(*) FROM {GROUPS} GROUP BY tenant_id",
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it.
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    # the expression Django compiles `name__icontains` to: UPPER("name"::text) LIKE UPPER(%s)
    f"CREATE INDEX server_group_name_trigram ON {GROUPS} USING gin ((UPPER(name::text)) gin_trgm_ops)",
]

POSTGRESQL_REVERSE = [
    "DROP INDEX IF EXISTS server_group_name_trigram",
    f"DROP TRIGGER IF EXISTS server_groups_inserted ON {GROUPS}",
    f"DROP TRIGGER IF EXISTS server_groups_deleted ON {GROUPS}",
    f"DROP TRIGGER IF EXISTS server_group_moved ON {GROUPS}",
    "DROP FUNCTION IF EXISTS cohort_server_groups_inserted()",
    "DROP FUNCTION IF EXISTS cohort_server_groups_deleted()",
    "DROP FUNCTION IF EXISTS cohort_server_group_moved()",
]

SQLITE = [
    f"""
    CREATE TRIGGER server_group_inserted AFTER INSERT ON {GROUPS} BEGIN
        INSERT INTO {TALLY} (tenant_id, groups) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET groups = groups + 1;
    END
    """,
    f"""
    CREATE TRIGGER server_group_deleted AFTER DELETE ON {GROUPS} BEGIN
        UPDATE {TALLY} SET groups = groups - 1 WHERE tenant_id = OLD.tenant_id;
    END
    """,
    f"""
    CREATE TRIGGER server_group_moved AFTER UPDATE OF tenant_id ON {GROUPS}
    WHEN OLD.tenant_id IS NOT NEW.tenant_id BEGIN
        UPDATE {TALLY} SET groups = groups - 1 WHERE tenant_id = OLD.tenant_id;
        INSERT INTO {TALLY} (tenant_id, groups) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET groups = groups + 1;
    END
    """,
    f"INSERT INTO {TALLY} (tenant_id, groups) SELECT tenant_id, COUNT(*) FROM {GROUPS} GROUP BY tenant_id",
]

SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS server_group_inserted",
    "DROP TRIGGER IF EXISTS server_group_deleted",
    "DROP TRIGGER IF EXISTS server_group_moved",
]


def run(statements: dict[str, list[str]]):
    def operation(apps, schema_editor):
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return operation


class Migration(migrations.Migration):
    dependencies = [
        ("openstack", "0007_placement"),
    ]

    operations = [
        migrations.CreateModel(
            name="ServerGroupTally",
            fields=[
                (
                    "tenant",
                    models.OneToOneField(
                        editable=False,
                        on_delete=models.deletion.CASCADE,
                        primary_key=True,
                        related_name="server_group_tally",
                        serialize=False,
                        to="openstack.tenant",
                    ),
                ),
                ("groups", models.BigIntegerField(default=0, editable=False)),
            ],
        ),
        migrations.AddIndex(
            model_name="servergroup",
            index=models.Index(fields=["state"], name="server_group_state"),
        ),
        migrations.RunPython(
            run({"postgresql": POSTGRESQL, "sqlite": SQLITE}),
            run({"postgresql": POSTGRESQL_REVERSE, "sqlite": SQLITE_REVERSE}),
        ),
    ]
