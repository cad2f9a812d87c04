"""Starting and stopping the lab as a separate process, for tests and for `cohort lab`.

The lab runs in its own interpreter (`python -m cohort_lab`): Nova's harness patches modules and
global configuration process-wide, which must not leak into the caller. `start_lab` waits for the
ready file the lab writes once it serves requests, and fails with the tail of the lab's log when it
dies or takes too long. `Lab.stop` sends SIGTERM, waits, and kills only if it must; the lab also stops
by itself when the process that started it is gone, so nothing outlives a crashed test run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from cohort.cloud.base import CloudAccess

READY_FILE = "lab.json"
PROCESS_LOG = "lab.log"
# What the lab keeps from one start to the next: Keystone's database, keys and configuration, and
# Nova's and placement's databases; and the stamp naming the Cohort database the state belongs to.
KEPT = ("keystone", "nova")
STAMP_FILE = "cohort-stamp"


def has_state(state_dir: str | Path) -> bool:
    """Whether `state_dir` holds a lab's kept state (Keystone's or Nova's databases)."""
    path = Path(state_dir)
    return (path / "keystone" / "keystone.sqlite").exists() or any((path / "nova").glob("*.sqlite"))


def reset_state(state_dir: str | Path) -> None:
    """Forget the lab's kept state in `state_dir` (the next start is empty); its stamp too."""
    path = Path(state_dir)
    for name in KEPT:
        shutil.rmtree(path / name, ignore_errors=True)
    (path / STAMP_FILE).unlink(missing_ok=True)


def read_stamp(state_dir: str | Path) -> str:
    """The stamp of the Cohort database the lab's state in `state_dir` belongs to ("" if none)."""
    try:
        return (Path(state_dir) / STAMP_FILE).read_text().strip()
    except FileNotFoundError:
        return ""


def write_stamp(state_dir: str | Path, stamp: str) -> None:
    path = Path(state_dir)
    path.mkdir(parents=True, exist_ok=True)
    partial = path / (STAMP_FILE + ".partial")
    partial.write_text(stamp + "\n")
    partial.replace(path / STAMP_FILE)


class LabError(RuntimeError):
    """The lab could not be started."""


@dataclass
class Lab:
    """A running lab: its Keystone and compute endpoints, its admin, and how to stop it."""

    endpoint: str
    image_id: str
    flavor_id: str
    hosts: tuple[str, ...]
    state_dir: Path
    process: subprocess.Popen
    _log: IO[bytes]
    _owns_state_dir: bool = False
    _tenants: dict[tuple[str, str], CloudAccess] = field(default_factory=dict, repr=False)
    auth_url: str = ""  # the lab's Keystone, `http://127.0.0.1:<port>/v3`
    admin_password: str = ""
    region: str = ""
    max_limit: int = 1000  # Nova's [api] max_limit

    def admin(self) -> CloudAccess:
        """The lab admin's `CloudAccess` (project `admin`, role `admin`)."""
        from cohort_lab import client

        return client.admin_access(self.auth_url, self.admin_password)

    def tenant(self, name: str) -> CloudAccess:
        """A tenant of the lab: Keystone project `name` and its user, made on first use; its `CloudAccess`."""
        from cohort_lab import client

        key = (self.auth_url, name)
        if key not in self._tenants:
            self._tenants[key] = client.create_tenant(self.admin(), name)
        return self._tenants[key]

    def add_host(self, name: str) -> tuple[str, ...]:
        """Start compute host `name` in the running lab (`cohort_lab.control`); the lab's hosts after."""
        from cohort_lab import control

        self.hosts = tuple(control.add_host(self.state_dir, name))
        return self.hosts

    def set_host_enabled(self, name: str, enabled: bool) -> None:
        """Enable or disable compute host `name` through Nova's API, as the lab's admin."""
        from cohort_lab import client

        client.set_host_enabled(self.admin(), name, enabled)

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the lab (SIGTERM, then SIGKILL after `timeout` seconds); safe to call twice."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        if self._owns_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_lab(
    state_dir: str | Path | None = None,
    *,
    port: int = 0,
    hosts: int = 3,
    token_expiration: int = 3600,
    max_limit: int = 1000,
    timeout: float = 90.0,
    reset: bool = False,
) -> Lab:
    """Start the lab on 127.0.0.1 and return once it serves requests (port 0: any free port).

    Without `state_dir` a temporary one is made and removed again by `Lab.stop`. The lab finds again
    what an earlier start in the same `state_dir` left (Keystone's projects and users, Nova's groups
    and servers); `reset`: start empty instead. `token_expiration`: how many seconds a token of the
    lab's Keystone lives; `max_limit`: Nova's `[api] max_limit` (its default, 1000: the most items a
    page of a listing holds, whatever limit a caller asks for).
    """
    owns_state_dir = state_dir is None
    path = Path(state_dir) if state_dir is not None else Path(tempfile.mkdtemp(prefix="cohort-lab-"))
    path.mkdir(parents=True, exist_ok=True)
    (path / READY_FILE).unlink(missing_ok=True)
    if reset:
        reset_state(path)
    command = [
        sys.executable,
        "-m",
        "cohort_lab",
        "--port",
        str(port),
        "--state-dir",
        str(path),
        "--hosts",
        str(hosts),
        "--parent-pid",
        str(os.getpid()),
        "--token-expiration",
        str(token_expiration),
        "--max-limit",
        str(max_limit),
    ]
    log = open(path / PROCESS_LOG, "ab")  # noqa: SIM115 - closed by Lab.stop
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    lab = Lab("", "", "", (), path, process, log, owns_state_dir)
    try:
        info = _wait_until_ready(process, path, timeout)
    except BaseException:
        lab.stop()
        raise
    lab.endpoint, lab.image_id, lab.flavor_id = info["endpoint"], info["image_id"], info["flavor_id"]
    lab.hosts, lab.max_limit = tuple(info["hosts"]), info["max_limit"]
    lab.auth_url, lab.admin_password, lab.region = info["auth_url"], info["admin_password"], info["region"]
    return lab


def _wait_until_ready(process: subprocess.Popen, state_dir: Path, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    ready = state_dir / READY_FILE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LabError(f"The lab exited with code {process.returncode}:\n{_log_tail(state_dir)}")
        if ready.exists():
            info = json.loads(ready.read_text())
            if info.get("pid") == process.pid:
                return info
        time.sleep(0.05)
    raise LabError(f"The lab was not ready after {timeout} s:\n{_log_tail(state_dir)}")


def _log_tail(state_dir: Path, lines: int = 30) -> str:
    try:
        text = (state_dir / PROCESS_LOG).read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])
