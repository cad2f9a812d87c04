"""Where each process keeps its figures, and what happens to them when it ends.

`prepare(role)` runs in `cohort web`, `worker`, `beat` and `serve` before they start gunicorn or
Celery: it makes `METRICS_DIR/<role>-<pid>` (empty: a pid may be reused after a restart) and points
`PROMETHEUS_MULTIPROC_DIR` at it, so every process they fork writes its own files there. Folders of
commands no longer running are removed, which resets their counters as a restart does (Prometheus
treats that as a counter reset). A gunicorn worker or Celery pool process that ends is marked dead,
so its live gauges, if any, drop out.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from django.conf import settings

ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare(role: str) -> Path:
    root = Path(settings.METRICS_DIR)
    folder = root / f"{role}-{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for other in root.iterdir():
        if other != folder and not _alive(other.name.rpartition("-")[2]):
            shutil.rmtree(other, ignore_errors=True)
    os.environ[ENV] = str(folder)
    return folder


def _alive(pid: str) -> bool:
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def enabled() -> bool:
    """Whether this process writes its figures to files (a process of `cohort web`, `worker`, ...)."""
    return bool(os.environ.get(ENV))


def mark_dead(pid: int) -> None:
    if enabled():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
