"""`cohort serve` as a user runs it: nothing lost, nothing wedged, nothing left behind.

Each test starts the real command (on the in-memory cloud, with a fresh COHORT_HOME, none of the
caller's COHORT_* variables, and durable-intent timers on a test's time scale) through
`bench.mixed_load.Serve`, which drains its output and reads the admin token and demo tenant from
its banner. The tests break it the ways a machine does (the worker SIGKILLed, serve stopped by
SIGTERM, Ctrl-C or SIGKILL) and read the process table from /proc: serve's children, their
children (gunicorn's workers, the Celery worker's pool processes) and their process groups.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

import httpx
import pytest
from bench.mixed_load import Serve, free_port, measure, report, serve_environment, transitional_count

import cohort_lab
from tests.workers import FAST_INTENT, wait_for

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; PR_SET_PDEATHSIG"),
    pytest.mark.database_free,
]

SETTLE_WITHIN = 30.0
# Every process a test saw under serve: the fixture kills what is left of them, even after a failure.
SEEN: list[Proc] = []


@dataclass(frozen=True)
class Proc:
    """One process as /proc shows it. `start` (clock ticks after boot) with `pid` names it even if
    the pid is reused later."""

    pid: int
    ppid: int
    pgid: int
    start: int
    state: str
    cmdline: str

    @property
    def dead(self) -> bool:
        return self.state in ("Z", "X")  # a zombie has exited; only its parent's wait is missing


def processes() -> dict[int, Proc]:
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as file:
                stat = file.read()
            with open(f"/proc/{entry}/cmdline", "rb") as file:
                cmdline = file.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # exited while we looked
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": state, ppid, pgrp, ...
        table[int(entry)] = Proc(int(entry), int(fields[1]), int(fields[2]), int(fields[19]), fields[0], cmdline)
    return table


def descendants(pid: int) -> list[Proc]:
    table = processes()
    found, parents = [], [pid]
    while parents:
        parent = parents.pop()
        children = [proc for proc in table.values() if proc.ppid == parent]
        found += children
        parents += [child.pid for child in children]
    return found


def still_running(started: Iterable[Proc]) -> list[Proc]:
    """Of `started`, those alive now, and any live process in one of their process groups."""
    started = list(started)
    known = {(proc.pid, proc.start) for proc in started}
    groups = {proc.pgid for proc in started} - {os.getpgrp()}
    return [p for p in processes().values() if not p.dead and ((p.pid, p.start) in known or p.pgid in groups)]


@dataclass
class Tree:
    """serve's processes: its three children and everything under them."""

    web: Proc
    worker: Proc
    beat: Proc
    everything: list[Proc]

    def under(self, parent: Proc) -> list[Proc]:
        return [proc for proc in self.everything if proc.ppid == parent.pid]


def child(procs: Iterable[Proc], parent: int, program: str, role: str = "") -> Proc | None:
    """The child of `parent` whose command line mentions `program` and has `role` as a word of its own
    (Celery retitles its processes: "[celeryd: celery@host:MainProcess] -active- (--app cohort worker")."""
    return next(
        (p for p in procs if p.ppid == parent and program in p.cmdline and (not role or role in p.cmdline.split())),
        None,
    )


def alive(proc: Proc, now: Iterable[Proc]) -> bool:
    return (proc.pid, proc.start) in {(p.pid, p.start) for p in now}


def serve_tree(serve: Serve) -> Tree:
    """serve's process tree once it is whole: gunicorn with its two workers, the Celery worker with
    its pool, and beat."""

    def whole() -> Tree | None:
        procs = descendants(serve.process.pid)
        web = child(procs, serve.process.pid, "gunicorn")
        worker = child(procs, serve.process.pid, "celery", "worker")
        beat = child(procs, serve.process.pid, "celery", "beat")
        if not (web and worker and beat):
            return None
        tree = Tree(web, worker, beat, procs)
        return tree if len(tree.under(web)) >= 2 and tree.under(worker) else None

    tree = wait_for(whole, "serve's process tree to be whole", 60)
    SEEN.extend(tree.everything)
    return tree


@pytest.fixture
def serve(tmp_path):
    """`cohort serve --memory` on a free port; always stopped at the end, with anything it left."""
    started = Serve.start(tmp_path, env=FAST_INTENT)
    try:
        yield started
    finally:
        try:
            if started.process.poll() is None:
                SEEN.extend(descendants(started.process.pid))
        finally:  # serve must stop even if reading /proc failed
            started.stop(signal.SIGTERM)
            for proc in still_running(SEEN):
                try:
                    os.kill(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            SEEN.clear()


def client(serve: Serve) -> httpx.Client:
    return httpx.Client(base_url=serve.api, headers=serve.headers, timeout=10)


def create(http: httpx.Client, serve: Serve, name: str) -> dict:
    response = http.post(f"/openstack-tenants/{serve.tenant}/create_server_group/", json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()


def states(http: httpx.Client, uuids: Iterable[str]) -> dict[str, str]:
    return {uuid: http.get(f"/openstack-server-groups/{uuid}/").json()["state"] for uuid in uuids}


def test_serve_starts_the_embedded_default(serve):
    """`cohort serve` as the README runs it (on the in-memory cloud, to keep this test quick; the lab
    behind the same code is covered by tests/test_real_nova.py)."""
    assert "IN-MEMORY cloud (--memory)" in serve.output()
    assert "not installed" not in serve.output() or not cohort_lab.nova_installed()
    with client(serve) as http:
        group = create(http, serve, "web")
        assert group["state"] == "CREATION_SCHEDULED"
        wait_for(lambda: states(http, [group["uuid"]]) == {group["uuid"]: "OK"}, "the worker to create it", 30)


def test_the_banner_comes_last_with_a_sign_in_link_that_works_once(tmp_path):
    """Without --verbose, the terminal shows serve's own lines and its banner, last, once everything
    answers; the children's chatter (gunicorn's boot, Celery's banner and warnings) is in serve.log."""
    port = free_port()
    command = [sys.executable, "-m", "cohort.cli", "serve", "--bind", f"127.0.0.1:{port}", "--memory"]
    process = subprocess.Popen(command, env=serve_environment(tmp_path, FAST_INTENT), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    try:
        wait_for(lambda: any(line.startswith("The output of gunicorn") for line in lines), "the banner", 90)
        SEEN.extend(descendants(process.pid))
        time.sleep(3)  # nothing may follow it
        terminal = "".join(lines)
        assert lines[-2].startswith("The output of gunicorn, the worker and beat:") and lines[-1] == "\n", terminal
        banner = terminal[terminal.index("Cohort is ready on") :]
        assert "Admin token: " in banner and "Demo tenant: " in banner, terminal
        assert not re.search(r"celery@|Booting worker|Listening at|No hostname|superuser", terminal), terminal
        log = (tmp_path / "serve.log").read_text()
        assert re.search(r"celery@\S+ ready", log) and "Listening at" in log and "beat: Starting" in log
        link = re.search(r"Web page: (http://\S+/ui/sign-in/\S+/)", banner)[1]
        with httpx.Client(timeout=10) as browser:
            first = browser.get(link)
            assert first.status_code == 302 and first.headers["location"] == "/ui/"
            page = browser.get(f"http://127.0.0.1:{port}/ui/")
            assert page.status_code == 200 and "admin" in page.text  # signed in, no password asked
        assert httpx.get(link, timeout=10).status_code == 410  # used up
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
        for proc in still_running(SEEN):
            os.kill(proc.pid, signal.SIGKILL)
        SEEN.clear()


def test_serve_keeps_answering_while_its_worker_is_killed_and_restarted(serve):
    tree = serve_tree(serve)
    old_pool = tree.under(tree.worker)
    answers, failures, stop = [], [], threading.Event()

    def keep_asking() -> None:  # a client that lists all along, and creates a few groups meanwhile
        with client(serve) as http:
            for number in itertools.count():
                if stop.is_set():
                    return
                try:
                    answers.append(http.get("/openstack-server-groups/").status_code)
                    if number % 10 == 0 and len(during) < 4:  # the in-memory Nova's quota is 10
                        body = {"name": f"during-{number}"}
                        created = http.post(f"/openstack-tenants/{serve.tenant}/create_server_group/", json=body)
                        answers.append(created.status_code)
                        if created.status_code == 201:
                            during.append(created.json()["uuid"])
                except httpx.HTTPError as error:
                    failures.append(repr(error))
                time.sleep(0.1)

    during: list[str] = []
    asker = threading.Thread(target=keep_asking, name="asker")
    with client(serve) as http:
        before = [create(http, serve, f"before-{n}")["uuid"] for n in range(2)]
        asker.start()
        try:
            time.sleep(0.5)
            log_mark = len(serve.lines)
            os.kill(tree.worker.pid, signal.SIGKILL)
            after = create(http, serve, "after-the-kill")["uuid"]

            serve.wait_for_log(r"worker exited with code -9 after \d+ s; restarting it in \d+ s", 15, log_mark)
            restarted = int(serve.wait_for_log(r"started worker \(pid (\d+)\)", 30, log_mark)[1])
            assert restarted != tree.worker.pid
            assert child(descendants(serve.process.pid), serve.process.pid, "celery", "worker").pid == restarted
            assert not still_running([tree.worker, *old_pool]), "the killed worker's pool processes live on"
            serve.wait_for_log(r"celery@\S+ ready", 60, log_mark)
            time.sleep(1)  # the client goes on asking while the new worker starts working
        finally:
            stop.set()
            asker.join(30)

        assert not failures, f"serve stopped answering while its worker was down: {failures[:3]}"
        assert len(answers) > 10 and set(answers) <= {200, 201}, f"answers: {sorted(set(answers))}"
        everything = [*before, after, *during]
        try:
            wait_for(lambda: set(states(http, everything).values()) == {"OK"}, "the groups to settle", SETTLE_WITHIN)
        except AssertionError:
            pytest.fail(f"not every group made before, during and after the kill is OK: {states(http, everything)}")


@pytest.mark.parametrize("how", ["SIGTERM", "Ctrl-C"])
def test_nothing_serve_started_outlives_it(serve, how):
    tree = serve_tree(serve)
    if how == "Ctrl-C":
        os.killpg(serve.process.pid, signal.SIGINT)  # what a terminal sends to the foreground job
    else:
        serve.process.send_signal(signal.SIGTERM)
    assert serve.stop(timeout=60) == 0, serve.output()[-3000:]

    # serve waited for its children before it exited, so nothing may be left even now.
    left = still_running(tree.everything)
    assert not alive(tree.beat, left), "celery beat outlived serve"
    assert not left, f"left running after serve stopped: {left}"


def test_serve_killed_by_sigkill_takes_its_children_along(serve):
    """PR_SET_PDEATHSIG: serve's children get SIGTERM when it dies, and take down what they started."""
    tree = serve_tree(serve)
    assert len(tree.everything) >= 6, tree.everything  # gunicorn + 2 workers, worker + pool, beat
    os.kill(serve.process.pid, signal.SIGKILL)
    serve.process.wait(10)

    def all_gone() -> bool:
        return not still_running(tree.everything)

    try:
        wait_for(all_gone, "serve's children and grandchildren to die with it", 15)
    except AssertionError:
        left = still_running(tree.everything)
        pytest.fail(f"alive 15 s after serve was SIGKILLed: {left} (beat among them: {alive(tree.beat, left)})")


def test_a_tenant_pull_sees_the_groups_the_worker_made(serve):
    """The in-memory cloud lives in the worker's pool process; with several pool processes each held a
    cloud of its own, and a tenant pull dropped records and brought deleted groups back."""
    with client(serve) as http:
        uuids = [create(http, serve, f"g{n}")["uuid"] for n in range(6)]
        wait_for(lambda: set(states(http, uuids).values()) == {"OK"}, "the groups to be created", SETTLE_WITHIN)
        for uuid in uuids[:2]:
            assert http.delete(f"/openstack-server-groups/{uuid}/").status_code == 204
        wait_for(lambda: not transitional_count(http), "the deletes to finish", SETTLE_WITHIN)
        kept = {group["uuid"]: group["backend_id"] for group in http.get("/openstack-server-groups/").json()}
        assert set(kept) == set(uuids[2:])

        for pull in range(3):
            log_mark = len(serve.lines)
            assert http.post(f"/openstack-tenants/{serve.tenant}/pull_server_groups/").status_code == 202
            serve.wait_for_log(r"tasks\.pull_tenant\[\S+\] succeeded", 30, log_mark)
            now = {group["uuid"]: group["backend_id"] for group in http.get("/openstack-server-groups/").json()}
            assert now == kept, f"pull {pull + 1} changed the records"


def test_a_mixed_load_gets_no_5xx_and_every_record_settles(serve):
    """bench/mixed_load.py for a few seconds: 8 clients creating, reading, listing and deleting."""
    outcome = measure(serve, duration=8, threads=8, settle_timeout=SETTLE_WITHIN)
    lines = []
    report(outcome, lines.append)
    summary = "\n".join(lines)
    assert outcome.stats["create"].codes[201] and outcome.stats["delete"].codes[204], summary
    assert outcome.ok, summary
