"""Settings for the test suite: the product's settings, with the environment set for tests first.

Tasks run eagerly (a test decides when on-commit callbacks fire), the cloud is the in-memory Nova,
state goes to a fresh temporary COHORT_HOME, and credentials are encrypted with a fresh key.
`COHORT_DATABASE_URL` still chooses the database, so the same suite runs on SQLite and on PostgreSQL.
"""

import os
import tempfile

from cryptography.fernet import Fernet

os.environ.setdefault("COHORT_HOME", tempfile.mkdtemp(prefix="cohort-test-"))
os.environ["COHORT_TASKS_EAGER"] = "1"
os.environ["COHORT_CLOUD_DRIVER"] = "cohort.cloud.memory.MemoryDriver"
os.environ.setdefault("COHORT_BROKER_URL", "memory://")
# In the environment, not only a key file in COHORT_HOME, so that the worker processes of the broker
# tests (which get a COHORT_HOME of their own) decrypt what this process encrypted.
os.environ.setdefault("COHORT_CREDENTIALS_KEY", Fernet.generate_key().decode())

from cohort.settings import *  # noqa: E402,F403
from cohort.settings import DATABASES, HOME  # noqa: E402

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so that a worker process in the broker tests sees the same database.
    DATABASES["default"]["TEST"] = {"NAME": str(HOME / "test.sqlite3")}
