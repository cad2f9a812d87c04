"""gunicorn's hooks for metrics (read by gunicorn from `cohort.gunicorn_config`)."""

import os


def child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
