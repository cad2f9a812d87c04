"""The Celery application. Its configuration is the `CELERY_*` part of `cohort.settings`.

Two additions to a plain app: `filesystem://` means Cohort's safe file-system transport
(`cohort.core.filesystem_broker`), in every process that sends or receives; and every worker runs
the sweep of `cohort.openstack.dispatch` in a thread of its own, so work whose message was lost or
whose worker died is dispatched again within seconds, by whichever workers are alive.

The sweep thread lives in the worker's main process, which forks the pool's children (at start and
whenever a child is replaced). A fork copies every lock as it is at that moment, so a child forked
while the sweep was inside SQLite, the database driver, kombu or logging could hang on its first
task, holding its share of the prefetched messages. A sweep therefore runs under `_SWEEPING`, and a
fork waits for it (os.register_at_fork): a child is only ever forked between two sweeps.

A pool process keeps its database connection from one task to the next, under Django's rules for
a request (CONN_MAX_AGE, health checks), rather than Celery's default of a new one for every task.
"""

import logging
import os
import threading

from celery import Celery, bootsteps, signals
from celery.beat import Service
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cohort.settings")
TRANSPORT_ALIASES["filesystem"] = "cohort.core.filesystem_broker:Transport"

logger = logging.getLogger(__name__)

app = Celery("cohort")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_ready.connect
@signals.beat_init.connect
def _say_ready(sender=None, **kwargs) -> None:
    """Tell `cohort serve`, which waits for its children before it prints its banner, that this one is
    up: a file named after the process's role in the folder it gave (COHORT_READY_DIR)."""
    folder = os.environ.get("COHORT_READY_DIR")
    if folder:
        role = "beat" if isinstance(sender, Service) else "worker"
        with open(os.path.join(folder, role), "w"):
            pass


_SWEEPING = threading.Lock()
os.register_at_fork(
    before=_SWEEPING.acquire,
    after_in_parent=_SWEEPING.release,
    after_in_child=_SWEEPING.release,
)


class Sweeper(bootsteps.StartStopStep):
    """Run `dispatch.sweep()` every `SWEEP_INTERVAL_SECONDS` while the worker runs, once the pool's
    children are forked."""

    requires = ("celery.worker.components:Pool",)

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.stopping = threading.Event()
        self.thread = None

    def start(self, worker):
        self.thread = threading.Thread(target=self.run, name="cohort-sweeper", daemon=True)
        self.thread.start()

    def stop(self, worker):
        self.stopping.set()

    def run(self):
        from django.conf import settings
        from django.db import close_old_connections

        from cohort.openstack import dispatch

        while not self.stopping.wait(settings.SWEEP_INTERVAL_SECONDS):
            with _SWEEPING:
                try:
                    close_old_connections()
                    dispatch.sweep()
                except Exception:  # the database is away: try again next round
                    logger.exception("the sweep failed")


app.steps["worker"].add(Sweeper)


@signals.task_prerun.connect
@signals.task_postrun.connect
def _close_old_connections(task=None, **kwargs) -> None:
    """Around each task, what Django does around each request: drop a connection past CONN_MAX_AGE or
    one that failed, keep the rest (settings.CELERY_DB_REUSE_MAX keeps Celery from closing them all).
    Not for an eager task, which runs inside its caller's request or transaction."""
    if task is None or getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


# --- Operations: the worker logs as the web does (settings.LOGGING: request ids, COHORT_LOG_FORMAT) ---
@signals.setup_logging.connect
def _log_as_django_does(**kwargs) -> None:
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
