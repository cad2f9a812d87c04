"""What `/health/ready` checks: the database, the broker, and how recently each cloud was reconciled.

The database and the broker decide readiness: a process that cannot reach either cannot do its job.
A cloud that does not answer does not: it is reported (the age of its oldest last successful pull and
the last error), because taking every web process out of a load balancer would not bring it back.
Nothing secret is reported: failures by their exception's class name only, never a message that
could carry a host or a credential, and cloud errors with any `user:password@` taken out of URLs.
"""

from __future__ import annotations

import re
from datetime import datetime

from django.db import connection
from django.db.models import Count, Max, Min, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from cohort.core.states import State

BROKER_TIMEOUT_SECONDS = 2.0
USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


def database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"status": "ok"}
    except Exception as error:
        connection.close()  # reconnect on the next check, not reuse a broken connection
        return {"status": "unavailable", "error": type(error).__name__}


def broker() -> dict:
    from django.conf import settings

    from cohort.celery import app

    url = settings.CELERY_BROKER_URL
    # Bounded whether the broker refuses or never answers: py-amqp's connect (and handshake) timeout,
    # redis-py's socket timeouts (without them it waits for ever, and so would the probe's web process).
    timeouts = {"socket_timeout": BROKER_TIMEOUT_SECONDS, "socket_connect_timeout": BROKER_TIMEOUT_SECONDS}
    options = timeouts if url.startswith(("redis://", "rediss://")) else {}
    try:
        with app.connection_for_write(url, connect_timeout=BROKER_TIMEOUT_SECONDS, transport_options=options) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT_SECONDS)
            conn.default_channel  # noqa: B018 (opening a channel is what talks to the server)
        return {"status": "ok"}
    except Exception as error:
        return {"status": "unavailable", "error": type(error).__name__}


def cloud_reconciliation() -> list[dict]:
    """Each registered cloud with its tenants' reconciliation: how many, since when the oldest last
    successful pull (a tenant never pulled counts from its creation), and the latest error."""
    from cohort.openstack.models import Tenant
    from cohort.structure.models import ServiceSettings

    now = timezone.now()
    pulled = (
        Tenant.objects.filter(state=State.OK)
        .exclude(backend_id="")
        .values("service_settings_id")
        .annotate(
            tenants=Count("pk"),
            never_pulled=Count("pk", filter=Q(pulled_at=None)),
            oldest=Min(Coalesce("pulled_at", "created")),
            latest=Max("pulled_at"),
            failing=Count("pk", filter=~Q(error_message="")),
        )
    )
    by_cloud = {row["service_settings_id"]: row for row in pulled}
    errors = {}
    failing = (
        Tenant.objects.filter(state=State.OK).exclude(error_message="").order_by("service_settings_id", "-modified")
    )
    for cloud_id, message in failing.values_list("service_settings_id", "error_message"):
        errors.setdefault(cloud_id, message)
    clouds = []
    for cloud in ServiceSettings.objects.order_by("name").only("pk", "uuid", "name"):
        row = by_cloud.get(cloud.pk, {})
        oldest: datetime | None = row.get("oldest")
        clouds.append(
            {
                "name": cloud.name,
                "uuid": cloud.uuid.hex,
                "tenants": row.get("tenants", 0),
                "tenants_never_pulled": row.get("never_pulled", 0),
                "tenants_failing": row.get("failing", 0),
                "last_pulled": row["latest"].isoformat() if row.get("latest") else None,
                "lag_seconds": round((now - oldest).total_seconds(), 3) if oldest else None,
                "last_error": _scrubbed(errors.get(cloud.pk, "")),
            }
        )
    return clouds


def _scrubbed(message: str) -> str:
    return USERINFO.sub("***@", message)[:500]
