"""Prometheus metrics at `/metrics`, with the official `prometheus_client` in multiprocess mode.

`cohort web` (gunicorn), `cohort worker` and `cohort beat` each run several processes; each process
writes its figures to memory-mapped files in a folder of its command's (`processes.prepare`), and
`/metrics` adds up the files of every folder under `METRICS_DIR`, so one scrape of any web process
covers every process on that machine that shares COHORT_HOME. What the database knows (server groups
by state, reconciliation lag per cloud) is computed when scraped, by one query each.
"""
