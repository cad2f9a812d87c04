"""`GET /metrics`: Prometheus's text format. With `COHORT_METRICS_TOKEN` set, only a request with
`Authorization: Bearer <token>` may read it; without, only a client on the loopback interface that
came through no proxy (a reverse proxy on the same machine would make every client look local)."""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from cohort.metrics.collectors import registry


@never_cache
@require_GET
def metrics(request) -> HttpResponse:
    if not allowed(request):
        return JsonResponse({"detail": "Authentication credentials were not provided."}, status=401,
                            headers={"WWW-Authenticate": 'Bearer realm="metrics"'})  # fmt: skip
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)


def allowed(request) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False
