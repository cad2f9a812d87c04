"""Count and time Celery task runs by task and outcome (Celery's final state: SUCCESS, FAILURE,
RETRY, ...), from Celery's signals, in whichever process runs the task."""

from __future__ import annotations

import os
import time

from celery import signals

from cohort.metrics import instruments

_started: dict[str, float] = {}


@signals.task_prerun.connect
def _started_run(task_id=None, **kwargs) -> None:
    _started[task_id] = time.perf_counter()


@signals.task_postrun.connect
def _finished_run(task_id=None, task=None, state=None, **kwargs) -> None:
    started = _started.pop(task_id, None)
    name = getattr(task, "name", "unknown")
    instruments.task_runs.labels(name, state or "UNKNOWN").inc()
    if started is not None:
        instruments.task_duration.labels(name).observe(time.perf_counter() - started)


@signals.worker_process_shutdown.connect
def _pool_process_gone(**kwargs) -> None:
    from cohort.metrics import processes

    processes.mark_dead(os.getpid())
