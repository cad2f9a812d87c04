"""A small process supervisor for `cohort serve`: start children, restart the ones that die, stop all.

Each child runs in a process group of its own, so stopping or restarting it also reaches what it
started (a Celery worker's pool processes, gunicorn's workers), and on Linux it is told to terminate
when the supervisor itself dies, so no child outlives `cohort serve` even after a `kill -9`. A child
that exits is restarted after a backoff that doubles up to `MAX_BACKOFF` and starts over once the
child has run for `HEALTHY_AFTER` seconds. Every start, exit and restart is logged.

Written here rather than with supervisord or circus: the embedded default must run from one Python
command with nothing else installed, and this is all of it that `serve` needs.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

logger = logging.getLogger("cohort.serve")

MAX_BACKOFF = 30.0
HEALTHY_AFTER = 60.0
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    name: str
    argv: Sequence[str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float | None = None
    env: dict[str, str] | None = field(default=None, repr=False)
    output: int | None = field(default=None, repr=False)  # a file descriptor for its stdout and stderr

    def start(self) -> None:
        err = None if self.output is None else subprocess.STDOUT
        self.process = subprocess.Popen(self.argv, env=self.env, stdout=self.output, stderr=err,
                                        start_new_session=True, preexec_fn=_die_with_parent)  # fmt: skip
        self.started_at = time.monotonic()
        self.restart_at = None
        logger.info("started %s (pid %d)", self.name, self.process.pid)

    def signal_group(self, signum: int) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass


class Supervisor:
    """`ready`, if given, is asked after every check until it answers True; then `on_ready` runs once."""

    def __init__(
        self,
        children: Sequence[Child],
        ready: Callable[[], bool] | None = None,
        on_ready: Callable[[], None] | None = None,
    ):
        self.children = list(children)
        self.stopping = False
        self.ready, self.on_ready = ready, on_ready

    def run(self, poll: float = 0.5) -> None:
        """Start every child and keep them running until `stop()` (or SIGINT/SIGTERM)."""
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: self.stop())
        for child in self.children:
            child.start()
        announced = self.ready is None
        try:
            while not self.stopping:
                self.check()
                if not announced and self.ready():
                    announced = True
                    if self.on_ready:
                        self.on_ready()
                time.sleep(poll)
        finally:
            self.shutdown()

    def stop(self) -> None:
        self.stopping = True

    def check(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at and not self.stopping:
                    child.start()
                continue
            code = child.process.poll() if child.process else None
            if code is None:
                continue
            child.signal_group(signal.SIGKILL)  # whatever it left behind (pool processes, beat)
            ran = now - child.started_at
            child.failures = 1 if ran >= HEALTHY_AFTER else child.failures + 1
            delay = min(2.0 ** (child.failures - 1), MAX_BACKOFF)
            child.restart_at = now + delay
            logger.error("%s exited with code %s after %.0f s; restarting it in %.0f s", child.name, code, ran, delay)

    def shutdown(self, timeout: float = 20.0) -> None:
        """SIGTERM every child, wait up to `timeout`, then SIGKILL what is left of its process group.

        Only the child itself gets the SIGTERM: gunicorn's master and Celery's main process each stop
        what they started in order (a pool process finishes its task), where a SIGTERM to the whole
        group would cut a running task short and make both log errors."""
        running = [c for c in self.children if c.process is not None and c.process.poll() is None]
        for child in running:
            child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in running:
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop in %.0f s; killing it", child.name, timeout)
        for child in self.children:
            child.signal_group(signal.SIGKILL)  # the group's stragglers, if any
            if child.process is not None:
                child.process.wait()
