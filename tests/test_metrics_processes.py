"""Where each command's processes keep their figures: a folder of its own, emptied at its start;
folders of commands no longer running are removed; /metrics adds up every folder's files."""

from __future__ import annotations

import os
import subprocess
import sys

from cohort.metrics import processes


def test_prepare_empties_its_own_folder_and_removes_dead_ones(settings, tmp_path, monkeypatch):
    settings.METRICS_DIR = tmp_path
    monkeypatch.delenv(processes.ENV, raising=False)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / f"worker-{dead.pid}").mkdir()
    alive = tmp_path / f"web-{os.getppid()}"
    alive.mkdir()
    own = tmp_path / f"beat-{os.getpid()}"
    own.mkdir()
    (own / "counter_1.db").write_bytes(b"old")
    folder = processes.prepare("beat")
    assert folder == own and list(own.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([own.name, alive.name])
    assert os.environ[processes.ENV] == str(own)


def test_metrics_adds_up_the_files_of_every_process(tmp_path):
    """Two processes of two commands count into their folders; a third reads the sum."""
    count = (
        "import os, django; django.setup();"
        "from cohort.metrics import instruments;"
        "instruments.task_runs.labels('t', 'SUCCESS').inc(int(os.environ['N']))"
    )
    read = (
        "import django; django.setup();"
        "from cohort.metrics.collectors import ProcessFilesCollector;"
        "print(sum(s.value for m in ProcessFilesCollector().collect() for s in m.samples"
        " if s.name == 'cohort_task_runs_total'))"
    )
    base = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cohort.settings",
        "COHORT_HOME": str(tmp_path),
        "COHORT_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    for role, n in (("web-1", 2), ("worker-2", 3)):
        folder = tmp_path / "metrics" / role
        folder.mkdir(parents=True)
        subprocess.run([sys.executable, "-c", count], env={**base, processes.ENV: str(folder), "N": str(n)}, check=True)
    env = {**base, processes.ENV: str(tmp_path / "metrics" / "web-1")}
    total = subprocess.run([sys.executable, "-c", read], env=env, check=True, capture_output=True, text=True).stdout
    assert float(total) == 5
