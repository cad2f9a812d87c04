"""Servers of a test's own, started and stopped by the test: a PostgreSQL cluster, a redis-server,
Prometheus, and `cohort web` / `cohort worker` processes, all on free loopback ports with their data in
temporary folders. A binary that is missing skips the test, except under CI (`CI=true`), where a test
that skips would hide a gap: there it fails, naming the Debian package that provides it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"


def require(binary: str, package: str, candidates: tuple[str, ...] = ()) -> str:
    found = shutil.which(binary) or next((c for c in candidates if Path(c).exists()), None)
    if found:
        return found
    message = f"`{binary}` is missing: apt-get install -y {package}"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message + " (CI must install it: see .ci/run)")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout: float = 30.0, interval: float = 0.2, what: str = "it"):
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
            if result:
                return result
        except Exception:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(interval)


def get(url: str, headers: dict | None = None, timeout: float = 10.0) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def get_json(url: str, **kwargs) -> tuple[int, dict]:
    status, _, body = get(url, **kwargs)
    return status, json.loads(body)


class Process:
    """A child in a process group of its own, stopped with its whole group."""

    def __init__(self, argv: list[str], log: Path, env: dict | None = None, user: str | None = None):
        if user and os.geteuid() == 0:
            argv = ["runuser", "-u", user, "--", *argv]
        self.log = log
        with open(log, "ab") as out:
            self.popen = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()


class Redis:
    def __init__(self, folder: Path):
        self.binary = require("redis-server", "redis-server")
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self) -> None:
        argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = Process(argv, self.folder / "redis.log")
        wait_until(lambda: socket.create_connection(("127.0.0.1", self.port), 1).close() or True, what="redis")

    def stop(self) -> None:
        if self.process:
            self.process.stop()


class Postgres:
    """A PostgreSQL cluster of the test's own (as the `postgres` user when the test runs as root,
    which PostgreSQL refuses to run as)."""

    def __init__(self, folder: Path):
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
        initdb = next((str(b / "initdb") for b in reversed(bins) if (b / "initdb").exists()), None)
        self.bin = Path(initdb or require("initdb", "postgresql")).parent
        self.user = "postgres" if os.geteuid() == 0 else None
        # Outside the test's own folder, which the postgres user may not enter.
        self.folder = Path(tempfile.mkdtemp(prefix="cohort-test-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"
        self.log = folder / "postgres.log"
        if self.user:
            shutil.chown(self.folder, self.user)
            self.log = self.folder / "postgres.log"
        self.run([str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync"])

    def run(self, argv: list[str]) -> None:
        if self.user:
            argv = ["runuser", "-u", self.user, "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True)
        assert done.returncode == 0, f"{argv} failed: {done.stdout}{done.stderr}"

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start"])

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])


def cohort_env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("COHORT_", "PROMETHEUS_", "DJANGO_")) and key != "PYTHONPATH"
    }
    env.update(
        PYTHONPATH=str(SRC),
        DJANGO_SETTINGS_MODULE="cohort.settings",
        COHORT_HOME=str(home),
        COHORT_CLOUD_DRIVER="cohort.cloud.memory.MemoryDriver",
        **extra,
    )
    return env


def cohort(*args: str) -> list[str]:
    return [sys.executable, "-m", "cohort.cli", *args]


def start_web(home: Path, env: dict[str, str]) -> tuple[Process, str]:
    port = free_port()
    web = Process(cohort("web", "--bind", f"127.0.0.1:{port}", "--workers", "2"), home / "web.log", env)
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: get(base + "/health/live", timeout=2)[0] == 200, what="cohort web answering")
    return web, base
