"""gunicorn's configuration hooks for metrics (`--config python:cohort.metrics.gunicorn_hooks`)."""

import os


def child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
