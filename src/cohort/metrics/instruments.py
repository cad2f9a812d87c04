"""Every metric Cohort records, in one place. Labels are bounded: a route is its URL pattern, never
the path; a method is one of HTTP's own or `other`; an operation is a driver method's name."""

from prometheus_client import Counter, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

http_requests = Counter(
    "cohort_http_requests",
    "HTTP requests answered, by route (URL pattern), method and status",
    ["route", "method", "status"],
)
http_request_duration = Histogram(
    "cohort_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)
task_runs = Counter("cohort_task_runs", "Celery task runs, by task and outcome", ["task", "outcome"])
task_duration = Histogram(
    "cohort_task_duration_seconds", "Time a Celery task ran", ["task"], buckets=LATENCY_BUCKETS + (120, 300)
)
cloud_calls = Counter(
    "cohort_cloud_calls", "Calls to a cloud's API, by operation and outcome", ["operation", "outcome"]
)
cloud_call_duration = Histogram(
    "cohort_cloud_call_duration_seconds", "Time a call to a cloud's API took", ["operation"], buckets=LATENCY_BUCKETS
)
login_failures = Counter(
    "cohort_login_failures", "Failed password logins, by endpoint and reason", ["endpoint", "reason"]
)
heal_moves = Counter(
    "cohort_heal_moves", "Moves of the heal engine, by outcome (succeeded, failed, skipped)", ["outcome"]
)
heal_duration = Histogram(
    "cohort_heal_duration_seconds",
    "Time from a heal's request to its end, by how it ended (succeeded, stopped)",
    ["outcome"],
    buckets=(1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
)
