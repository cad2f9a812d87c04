"""The lab's processes (Nova, and its Keystone): they start on 127.0.0.1, stop on SIGTERM, and never
outlive whoever started them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

import cohort_lab

pytestmark = [
    pytest.mark.skipif(not cohort_lab.nova_installed(), reason="needs the `lab` extra (pip install -e '.[lab]')"),
    pytest.mark.database_free,
]

ORPHANING_PARENT = """
import json, os, sys
import cohort_lab
lab = cohort_lab.start_lab(sys.argv[1])
keystone = json.load(open(os.path.join(sys.argv[1], "keystone", "keystone.json")))
print(lab.process.pid, keystone["pid"], flush=True)
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


def test_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    lab = cohort_lab.start_lab(tmp_path / "lab")
    assert lab.endpoint.startswith("http://127.0.0.1:")
    assert lab.auth_url.startswith("http://127.0.0.1:") and lab.auth_url.endswith("/v3")
    assert requests.get(lab.endpoint, timeout=5).status_code == 200
    assert requests.get(lab.auth_url, timeout=5).status_code == 200

    lab.stop()

    assert lab.process.returncode == 0
    assert not (tmp_path / "lab" / "lab.json").exists()
    assert not (tmp_path / "lab" / "tmp").exists()
    for url in (lab.endpoint, lab.auth_url):  # Nova and Keystone both
        with pytest.raises(requests.ConnectionError):
            requests.get(url, timeout=5)


def test_stops_when_its_parent_dies(tmp_path: Path) -> None:
    parent = subprocess.run(
        [sys.executable, "-c", ORPHANING_PARENT, str(tmp_path / "lab")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lab_pid, keystone_pid = (int(pid) for pid in parent.stdout.split()[:2])

    stopped = {pid: _gone(pid, within=15) for pid in (lab_pid, keystone_pid)}
    for pid, gone in stopped.items():
        if not gone:
            os.kill(pid, 9)
    assert all(stopped.values()), "the lab (Nova or Keystone) outlived the process that started it"


def test_no_process_of_the_lab_has_a_password_in_its_command_line(lab) -> None:
    """ps shows every user's argv: the lab's admin password goes to Keystone in the environment."""
    seen = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(b"cohort_lab" in part for part in argv):
            seen += 1
            assert lab.admin_password.encode() not in b" ".join(argv)
    assert seen >= 2  # the lab and its Keystone
