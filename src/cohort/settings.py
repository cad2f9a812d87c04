"""Django settings, read from the environment only.

Every knob is a `COHORT_*` variable so the same code runs as the embedded default (SQLite and a
server-less broker under `COHORT_HOME`) and in production (PostgreSQL, Redis or RabbitMQ, many
`cohort web` and `cohort worker` processes). Nothing a second process needs is kept in memory.
"""

import os
from collections.abc import Callable
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

env = os.environ.get


def env_bool(name: str, default: bool) -> bool:
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def env_rate(name: str, default: str) -> tuple[int, int] | None:
    """A rate such as `10/minute` (or `/second`, `/hour`, `/day`) as (count, seconds); `off` is none."""
    value = (env(name) or default).strip().lower()
    if value in ("off", "none"):
        return None
    count, _, period = value.partition("/")
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}.get(period[:1])
    if not count.isdigit() or seconds is None:
        raise ImproperlyConfigured(f"{name} must be a rate such as 10/minute (or /second, /hour, /day), or off")
    return int(count), seconds


# What Cohort creates (the SQLite database with its -wal and -shm, COHORT_HOME, the secret key, the
# broker's folders and messages, the beat schedule) is for its owner only: files 0600, folders 0700.
# Set here, before any of them is made, because every process loads these settings first, and
# `cohort web`, `worker`, `beat` and `serve` pass the mask on to the gunicorn and Celery they start.
UMASK = int(env("COHORT_UMASK", "077"), 8)
os.umask(UMASK)

HOME = Path(env("COHORT_HOME", Path.cwd() / ".cohort")).resolve()

DEBUG = env_bool("COHORT_DEBUG", False)


def generated_once(key_file: Path, make: Callable[[], str]) -> str:
    """The content of `key_file`, which is made (mode 0600) by `make()` if it does not exist yet.

    Written to a draft and linked into place, which is atomic and never overwrites: of several
    processes starting at once on a fresh COHORT_HOME, one key wins and every process reads that
    one (never a file still being written)."""
    if not key_file.exists():
        import tempfile

        key_file.parent.mkdir(parents=True, exist_ok=True)
        fd, draft = tempfile.mkstemp(dir=key_file.parent, prefix=f".{key_file.name}.")  # mode 0600
        try:
            with os.fdopen(fd, "w") as out:
                out.write(make() + "\n")
            try:
                os.link(draft, key_file)
            except FileExistsError:
                pass
        finally:
            os.unlink(draft)
    return key_file.read_text().strip()


def _random_secret_key() -> str:
    from django.core.management.utils import get_random_secret_key

    return get_random_secret_key()


# Generated once per COHORT_HOME, so tokens and sessions survive a restart without a key ever being
# committed. Production sets COHORT_SECRET_KEY.
SECRET_KEY = env("COHORT_SECRET_KEY") or generated_once(HOME / "secret_key", _random_secret_key)


# --- Cloud credentials, encrypted at rest (cohort.core.encryption) ---------------------------------
# COHORT_CREDENTIALS_KEY: one or more Fernet keys, comma-separated. The first encrypts, all decrypt:
# that is how a key is rotated (`cohort rotate-credentials-key`). Unset, a key is generated once into
# COHORT_HOME/credentials_key, which suits one machine; processes on several machines must share
# COHORT_CREDENTIALS_KEY. Never derived from SECRET_KEY: rotating one must not lock out the other.
CREDENTIALS_KEY_FILE = HOME / "credentials_key"


def credentials_keys(configured: str | None, key_file: Path) -> list[str]:
    """The keys in `configured`, else in `key_file`, which is created (mode 0600) when missing."""
    if not (configured or "").strip():
        from cryptography.fernet import Fernet

        configured = generated_once(key_file, lambda: Fernet.generate_key().decode())
    return [key.strip() for key in configured.replace("\n", ",").split(",") if key.strip()]


CREDENTIALS_KEYS = credentials_keys(env("COHORT_CREDENTIALS_KEY"), CREDENTIALS_KEY_FILE)
# --- end of cloud credentials ----------------------------------------------------------------------

ALLOWED_HOSTS = [h.strip() for h in env("COHORT_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in env("COHORT_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc assets, served locally: the docs work offline
    "cohort.core",
    "cohort.events",  # the event log (/api/events/): below the domain apps, which record into it
    "cohort.structure",
    "cohort.openstack",
    "cohort.embedded",  # `cohort serve` and its demo records
    "cohort.health",
    "cohort.metrics",
    "cohort.ui",  # the web page at /ui/
]

MIDDLEWARE = [
    "cohort.core.request_ids.request_id_middleware",
    "cohort.metrics.middleware.http_metrics",
    "cohort.core.middleware.body_limits",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "cohort.core.middleware.admin_content_security_policy",
]

# Response headers (SecurityMiddleware, XFrameOptionsMiddleware; these are Django's defaults, stated
# here because they are relied on): nothing is sniffed, framed or sent a full referrer.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
ADMIN_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

# The largest request body, in bytes: anything larger is 413 before it is read. Django's own limit on
# form and multipart data is the same number.
MAX_BODY_BYTES = int(env("COHORT_MAX_BODY_BYTES", str(2_621_440)))  # Django's default, 2.5 MiB
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_BODY_BYTES

ROOT_URLCONF = "cohort.urls"
WSGI_APPLICATION = "cohort.wsgi.application"
APPEND_SLASH = False  # the documented paths carry their slash; a redirect would drop a POST body
CSRF_FAILURE_VIEW = "cohort.core.views.csrf_failure"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        env("COHORT_DATABASE_URL") or f"sqlite:///{HOME / 'cohort.sqlite3'}",
        conn_max_age=int(env("COHORT_DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web and worker processes share one file: WAL lets readers run beside the writer, and
    # IMMEDIATE transactions take the write lock up front instead of failing on upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = []

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env("COHORT_STATIC_ROOT") or None  # only for an optional `cohort collectstatic`
# The admin's and the API docs' assets are served by the app itself (WhiteNoise), straight from the
# installed packages, so neither the embedded default nor a production web process needs a CDN or a
# separate static file server.
WHITENOISE_USE_FINDERS = True
# The built manual (`./dev docs` writes site/ in the checkout, where `./dev serve` runs), served at
# /docs/ by cohort.core.manual when it is there.
MANUAL_ROOT = Path(env("COHORT_MANUAL_DIR", Path.cwd() / "site")).resolve()

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "cohort.core.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["cohort.core.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "cohort.core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "cohort.core.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["cohort.core.filtersets.FilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "cohort.core.pagination.LinkHeaderPagination",
    "EXCEPTION_HANDLER": "cohort.core.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# The OpenAPI schema at /api/schema/ (docs at /api/docs/ and /api/redoc/). Operation ids, component
# and enum names are the reference's, so a client generated from either schema is the same client.
SPECTACULAR_SETTINGS = {
    "TITLE": "Cohort",
    "DESCRIPTION": "OpenStack server groups: a drop-in for the server-group API of Waldur MasterMind.",
    "VERSION": "0.1.0",
    "SCHEMA_PATH_PREFIX": "/api/",
    "COMPONENT_SPLIT_REQUEST": True,
    # `?field=` may leave any key out of a response, so no response key is marked required.
    "COMPONENT_NO_READ_ONLY_REQUIRED": True,
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],  # the schema and the docs are public, and a stale token must not break them
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "CoreStates": "cohort.openstack.api.schema.STATE_CHOICES",
        "PolicyEnum": "cohort.openstack.api.schema.POLICY_CHOICES",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "cohort.core.schema.add_count_operations",
    ],
}

# Sliding expiry: a token lives this long after its last use.
TOKEN_LIFETIME_SECONDS = int(env("COHORT_TOKEN_LIFETIME", "3600"))
# A use renews the token in the database only when its stored last use is older than this, so that
# reading does not cost a write per request; the lifetime is honoured to within this slack.
TOKEN_RENEW_INTERVAL_SECONDS = min(60, TOKEN_LIFETIME_SECONDS // 10)

# Failed password logins allowed per username and per client address; past them, 429 until the
# window (the rate's period) ends. See cohort.core.throttling.
LOGIN_RATE_ADDRESS = env_rate("COHORT_LOGIN_RATE_ADDRESS", "20/minute")
LOGIN_RATE_USER_ADDRESS = env_rate("COHORT_LOGIN_RATE_USER_ADDRESS", "5/minute")
LOGIN_RATE_GLOBAL = env_rate("COHORT_LOGIN_RATE_GLOBAL", "30/minute")
if env("COHORT_LOGIN_RATE_USER"):
    raise ImproperlyConfigured(
        "COHORT_LOGIN_RATE_USER is gone: failures are no longer counted per username alone (anyone could lock "
        "a user out). Use COHORT_LOGIN_RATE_USER_ADDRESS (per username from one address) and "
        "COHORT_LOGIN_RATE_GLOBAL (for everyone together)."
    )
# How many reverse proxies in front of Cohort append to X-Forwarded-For; 0 trusts REMOTE_ADDR only.
NUM_PROXIES = int(env("COHORT_NUM_PROXIES", "0"))

# The cloud driver, by dotted path.
CLOUD_DRIVER = env("COHORT_CLOUD_DRIVER", "cohort.cloud.openstack.OpenStackDriver")
# Every HTTP request to a cloud (Keystone and Nova) gives up after this many seconds.
CLOUD_TIMEOUT_SECONDS = float(env("COHORT_CLOUD_TIMEOUT", "20"))
# At most this many steps run against one cloud at once, so a hung cloud cannot hold every worker.
CLOUD_CONCURRENCY = int(env("COHORT_CLOUD_CONCURRENCY", "2"))
RECONCILE_INTERVAL_SECONDS = int(env("COHORT_RECONCILE_INTERVAL", "600"))
# The event log (/api/events/) keeps this many days; the periodic work prunes older events hourly.
EVENT_RETENTION_DAYS = int(env("COHORT_EVENT_RETENTION_DAYS", "90"))
EVENT_PRUNE_INTERVAL_SECONDS = 3600

# Durable intent (cohort.core.intent): a scheduled step not started by its message within the grace
# is dispatched again by the sweep that every worker runs; a running step holds a lease it renews,
# which a dead worker's runs out; a transient cloud failure is tried STEP_ATTEMPTS times in all.
DISPATCH_GRACE_SECONDS = float(env("COHORT_DISPATCH_GRACE", "3"))
REDISPATCH_SECONDS = float(env("COHORT_REDISPATCH", "10"))
SWEEP_INTERVAL_SECONDS = float(env("COHORT_SWEEP_INTERVAL", "2"))
LEASE_SECONDS = float(env("COHORT_LEASE", "15"))
STEP_ATTEMPTS = int(env("COHORT_STEP_ATTEMPTS", "5"))
# How long after a create that timed out a late Nova group is taken for its stray duplicate.
# The heal engine (`cohort.openstack.heal`): how long one move may take before the heal stops, how
# many moves may run against one cloud at once, and how long after a heal that mended a group it is
# not healed by itself again if it breaks (no flapping).
HEAL_MOVE_TIMEOUT_SECONDS = int(env("COHORT_HEAL_MOVE_TIMEOUT", "300"))
HEAL_CONCURRENCY = int(env("COHORT_HEAL_CONCURRENCY", "1"))
HEAL_FLAP_WINDOW_SECONDS = int(env("COHORT_HEAL_FLAP_WINDOW", "3600"))
STRAY_WINDOW_SECONDS = float(env("COHORT_STRAY_WINDOW", "3600"))

# Celery. The embedded default uses a file-system transport (kombu's, made safe for concurrent
# readers by cohort.core.filesystem_broker): no broker server, and it works across processes.
BROKER_DIR = HOME / "broker"
BROKER_SOCKET_TIMEOUT = 4.0  # seconds; Celery's own connection timeout (broker_connection_timeout)
CELERY_BROKER_URL = env("COHORT_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": 0.2,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # redis-py waits for an answer without end unless told: a Redis that accepts connections and never
    # answers would hold a publish, and so the POST that sends it, for ever. (RabbitMQ's client gives up
    # after Celery's connection timeout, 4 s, on its own.)
    # kombu also keeps a copy of every message a worker takes until it is acknowledged, to put it back
    # after an hour if the worker died (`ack_emulation`): a round trip to Redis before each task starts,
    # and a periodic scan. The database already holds what must still happen, and the sweep sends it
    # again within seconds, so Cohort goes without it.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_timeout": BROKER_SOCKET_TIMEOUT,
        "socket_connect_timeout": BROKER_SOCKET_TIMEOUT,
        "ack_emulation": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
CELERY_TASK_ALWAYS_EAGER = env_bool("COHORT_TASKS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
# A message is acknowledged when a worker takes it: the database, not the broker, remembers what is
# still to do, and the sweep re-dispatches work whose worker died.
CELERY_TASK_ACKS_LATE = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes every database connection before and after each task unless this is set,
# so each task would open a new one (about 4 ms on SQLite, more on PostgreSQL) on the way from a create
# to OK. With it, a pool process keeps its connection (Celery still drops it every this many tasks) and
# `cohort.celery` applies Django's own rule around each task instead: CONN_MAX_AGE and the health check.
CELERY_DB_REUSE_MAX = 1000
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# On a lost broker connection Celery 5 cancels running late-acknowledged tasks only if this is set, and
# otherwise logs a long deprecation warning at every loss. No Cohort task acknowledges late, so this
# cancels nothing: it keeps a worker's log of a broker outage to the lines that say what happened.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# Two queues: the lifecycle steps (creates, updates, deletes) on the default one, and reconciliation
# (tenant and group pulls, the periodic round) on `pulls`. A worker started without `-Q` takes both;
# `cohort serve` runs one worker for each, so that a pull of a big tenant, or of a cloud that hangs,
# never holds a process that another cloud's create is waiting for (docs/performance.md, "Fair to
# every cloud").
CELERY_TASK_DEFAULT_QUEUE = "celery"
PULL_QUEUE = "pulls"
CELERY_TASK_QUEUES = (Queue(CELERY_TASK_DEFAULT_QUEUE), Queue(PULL_QUEUE))
CELERY_TASK_ROUTES = {
    f"cohort.openstack.tasks.{name}": {"queue": PULL_QUEUE}
    for name in ("pull_server_group", "pull_tenant", "pull_tenant_quotas", "pull_cloud_tenants", "reconcile_all")
}
# Every task is bounded: past the soft limit the step gives up (and is retried later), past the hard
# limit the worker process running it is killed and replaced.
CELERY_TASK_TIME_LIMIT = int(env("COHORT_TASK_TIME_LIMIT", "180"))
CELERY_TASK_SOFT_TIME_LIMIT = max(1, CELERY_TASK_TIME_LIMIT - 30)
CELERY_BEAT_SCHEDULE = {
    "reconcile-tenants": {
        "task": "cohort.openstack.tasks.reconcile_all",
        "schedule": RECONCILE_INTERVAL_SECONDS,
    },
    "prune-events": {
        "task": "cohort.events.tasks.prune_events",
        "schedule": EVENT_PRUNE_INTERVAL_SECONDS,
    },
}
# Any number of `cohort beat` may run: one leads, under a lease in the database that it renews every
# third of BEAT_LEASE_SECONDS; each job's period is claimed in the database before it is sent
# (cohort.core.beat). Nothing is kept in a file.
CELERY_BEAT_SCHEDULER = "cohort.core.beat:LeaderScheduler"
BEAT_LEASE_SECONDS = float(env("COHORT_BEAT_LEASE", "30"))

# --- Operations: health, metrics, request ids, logs (cohort.health, cohort.metrics, cohort.core.logs) ---
# COHORT_LOG_FORMAT=json: one JSON object per line; anything else, plain text. Either way each line
# carries the request id of the request (or of the request that queued the task) it belongs to.
LOG_FORMAT = "json" if env("COHORT_LOG_FORMAT", "plain").strip().lower() == "json" else "plain"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "cohort.core.logs.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"},
        "json": {"()": "cohort.core.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]}},
    "root": {"handlers": ["console"], "level": env("COHORT_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
# The worker logs through LOGGING too (cohort.celery), not through handlers of Celery's own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# /metrics (cohort.metrics): with COHORT_METRICS_TOKEN set, only `Authorization: Bearer <token>` may
# read it; without, only clients on the loopback interface. Each `cohort web`, `worker` and `beat`
# keeps its processes' figures in a folder of its own under METRICS_DIR, which /metrics adds up.
METRICS_TOKEN = env("COHORT_METRICS_TOKEN") or ""
METRICS_DIR = HOME / "metrics"
# --- end of operations ---------------------------------------------------------------------------------

if CELERY_BROKER_URL.startswith("filesystem"):
    for folder in ("queue", "processed", "control"):
        (BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)

if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("COHORT_ALLOWED_HOSTS must name at least one host")
