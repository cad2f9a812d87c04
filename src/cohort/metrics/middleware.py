"""Count and time every HTTP request by route, method and status."""

from __future__ import annotations

import time

from cohort.metrics import instruments

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "<unmatched>"  # answered before or without URL resolution (413, a 404 for no route)


def http_metrics(get_response):
    def middleware(request):
        started = time.perf_counter()
        response = get_response(request)
        elapsed = time.perf_counter() - started
        match = request.resolver_match
        route = match.route if match is not None else UNMATCHED
        method = request.method if request.method in METHODS else "other"
        instruments.http_requests.labels(route, method, response.status_code).inc()
        instruments.http_request_duration.labels(route, method).observe(elapsed)
        return response

    return middleware
