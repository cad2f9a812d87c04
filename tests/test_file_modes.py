"""What Cohort writes under COHORT_HOME is its owner's only: files 0600, folders 0700, whatever the
umask of the shell that started it. Checked on real `cohort` processes started as a user would."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

SHELL_UMASK = 0o022  # a usual login shell's: files 0644, as the SQLite database used to be

LIST_MODES = """
import json, os
from django.db import connection
with connection.cursor() as cursor:  # a write, so SQLite opens the -wal and -shm files
    cursor.execute("UPDATE django_migrations SET applied = applied WHERE id = 1")
    home = os.environ["COHORT_HOME"]
    print(json.dumps({
        os.path.relpath(os.path.join(folder, name), home): oct(os.stat(os.path.join(folder, name)).st_mode & 0o777)
        for folder, dirs, files in os.walk(home) for name in [".", *files]
    }))
"""


def cohort_env(home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("COHORT_")}
    env.update(COHORT_HOME=str(home), DJANGO_SETTINGS_MODULE="cohort.settings", COHORT_LOG_LEVEL="WARNING")
    return env


def cohort(*args: str, home: Path, extra_env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "cohort.cli", *args]
    env = {**cohort_env(home), **(extra_env or {})}
    return subprocess.run(command, env=env, umask=SHELL_UMASK, capture_output=True, text=True, **kwargs)


def test_migrate_creates_home_database_and_state_for_the_owner_only(tmp_path):
    home = tmp_path / "home"  # not there yet: cohort makes it
    assert cohort("migrate", home=home, check=True).returncode == 0
    modes = json.loads(cohort("shell", "-c", LIST_MODES, home=home, check=True).stdout.splitlines()[-1])

    expected = {
        ".": "0o700",
        "cohort.sqlite3": "0o600",
        "cohort.sqlite3-wal": "0o600",
        "cohort.sqlite3-shm": "0o600",
        "secret_key": "0o600",
        "broker": "0o700",
        "broker/queue": "0o700",
        "broker/processed": "0o700",
        "broker/control": "0o700",
    }
    assert {name: modes.get(name) for name in expected} == expected
    assert all(mode in ("0o600", "0o700") for mode in modes.values()), modes


def process_umask(pid: int) -> int | None:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Umask:"):
            return int(line.split()[1], 8)
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the umask from /proc")
@pytest.mark.parametrize("command", ["web", "worker", "beat", "serve"])
def test_long_running_commands_run_with_the_owner_only_umask(tmp_path, command):
    """`web`, `worker` and `beat` become gunicorn or Celery (exec); `serve` starts both."""
    args = {
        "web": ["web", "--bind", f"127.0.0.1:{free_port()}"],
        "worker": ["worker", "--", "--pool", "solo"],
        "beat": ["beat"],
        "serve": ["serve", "--memory", "--bind", f"127.0.0.1:{free_port()}"],
    }[command]
    process = subprocess.Popen(
        [sys.executable, "-m", "cohort.cli", *args],
        env=cohort_env(tmp_path),
        umask=SHELL_UMASK,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        # The umask is set once the settings load; until then the process has its parent's.
        while process_umask(process.pid) != 0o077 and time.monotonic() < deadline:
            assert process.poll() is None, f"cohort {command} exited"
            time.sleep(0.1)
        assert process_umask(process.pid) == 0o077
        time.sleep(1)  # let it start and write its files, then: still the owner's only, and still running
        assert process.poll() is None, f"cohort {command} exited"
        assert process_umask(process.pid) == 0o077
    finally:
        process.terminate()
        process.wait(timeout=30)
    loose = [
        f"{path.relative_to(tmp_path)} {oct(path.stat().st_mode & 0o777)}"
        for path in tmp_path.rglob("*")
        if stat.S_IMODE(path.stat().st_mode) & 0o077
    ]
    assert loose == []


def test_cohort_umask_can_let_a_group_read(tmp_path):
    home = tmp_path / "home"
    cohort("migrate", home=home, check=True, extra_env={"COHORT_UMASK": "027"})
    assert oct((home / "cohort.sqlite3").stat().st_mode & 0o777) == "0o640"
    assert oct(home.stat().st_mode & 0o777) == "0o750"
