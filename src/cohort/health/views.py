"""`/health/live` answers as long as the process serves requests; `/health/ready` answers 503 when the
database or the broker cannot be reached. Both are JSON, need no authentication, and are never cached.
They are plain Django views outside /api/, so they are not in the API's schema."""

from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from cohort.health import checks


@never_cache
@require_GET
def live(request) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def ready(request) -> JsonResponse:
    dependencies = {"database": checks.database(), "broker": checks.broker()}
    ok = all(check["status"] == "ok" for check in dependencies.values())
    body = {"status": "ok" if ok else "unavailable", **dependencies}
    if dependencies["database"]["status"] == "ok":
        body["clouds"] = checks.cloud_reconciliation()
    return JsonResponse(body, status=200 if ok else 503)
