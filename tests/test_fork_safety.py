"""The worker's pool children are forked from a process whose sweep thread uses SQLite, the database
driver, kombu and logging: a fork must never copy a lock the sweep holds (a child forked mid-sweep
hung on its first task, and the worker stopped taking work after a broker restart)."""

import os
import threading
import time

from cohort import celery


def test_a_fork_waits_for_the_sweep_in_progress():
    sweeping = threading.Event()

    def sweep():
        with celery._SWEEPING:
            sweeping.set()
            time.sleep(0.5)

    thread = threading.Thread(target=sweep)
    thread.start()
    sweeping.wait()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: the sweep lock is free here, whatever the parent's thread did
        os._exit(0 if celery._SWEEPING.acquire(timeout=1) else 1)
    waited = time.monotonic() - started
    _, status = os.waitpid(pid, 0)
    thread.join()
    assert waited >= 0.3, "the fork did not wait for the sweep to finish"
    assert os.waitstatus_to_exitcode(status) == 0, "the child inherited a held sweep lock"


def test_the_sweeper_starts_after_the_pool_forked_its_children():
    assert "celery.worker.components:Pool" in celery.Sweeper.requires
