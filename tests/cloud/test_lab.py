"""The lab process: it starts on 127.0.0.1, stops on SIGTERM, and never outlives whoever started it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

import cohort_lab
from cohort_lab.wsgi import parse_token

pytestmark = pytest.mark.skipif(
    not cohort_lab.nova_installed(), reason="needs the `lab` extra (pip install -e '.[lab]')"
)

ORPHANING_PARENT = """
import os, sys
import cohort_lab
lab = cohort_lab.start_lab(sys.argv[1])
print(lab.process.pid, flush=True)
os._exit(0)  # die without stopping the lab, as a killed test run would
"""


def _gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_parse_token() -> None:
    assert parse_token("demo:p1") == ("demo", "p1")
    assert parse_token("demo") is None
    assert parse_token("demo:") is None
    assert parse_token("a:b:c") is None


def test_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    lab = cohort_lab.start_lab(tmp_path / "lab")
    assert lab.endpoint.startswith("http://127.0.0.1:")
    assert requests.get(lab.endpoint, timeout=5).status_code == 200

    lab.stop()

    assert lab.process.returncode == 0
    assert not (tmp_path / "lab" / "lab.json").exists()
    assert not (tmp_path / "lab" / "tmp").exists()
    with pytest.raises(requests.ConnectionError):
        requests.get(lab.endpoint, timeout=5)


def test_stops_when_its_parent_dies(tmp_path: Path) -> None:
    parent = subprocess.run(
        [sys.executable, "-c", ORPHANING_PARENT, str(tmp_path / "lab")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lab_pid = int(parent.stdout.split()[0])

    stopped = _gone(lab_pid, within=15)
    if not stopped:
        os.kill(lab_pid, 9)
    assert stopped, "the lab outlived the process that started it"
