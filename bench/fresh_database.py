"""Django on a database of a benchmark's own, built afresh: the benchmarks that fill Cohort's tables
(`list_page.py`, `tenant_pull.py`) call `fresh_database` before importing any model.

SQLite: a new file under a temporary COHORT_HOME (unless COHORT_HOME is set). PostgreSQL (when
COHORT_DATABASE_URL names a postgres:// server): the database `name` on that server, dropped and made
again, never the database of the URL itself. Then Django is set up and the migrations applied.
"""

import os
import tempfile


def fresh_database(name: str) -> None:
    os.environ.setdefault("COHORT_HOME", tempfile.mkdtemp(prefix="cohort-bench-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "cohort.settings"
    os.environ["COHORT_LOG_LEVEL"] = "WARNING"
    if os.environ.get("COHORT_DATABASE_URL", "").startswith("postgres"):
        base, _, _ = os.environ["COHORT_DATABASE_URL"].rpartition("/")
        os.environ["COHORT_DATABASE_URL"] = f"{base}/{name}"
        import psycopg

        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}"')

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
