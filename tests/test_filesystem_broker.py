"""The embedded default's broker: kombu's file-system transport with an atomic publish.

kombu 5.6's own transport makes the message file and then writes it, so a reader racing the writer
reads an empty file and the worker dies of a JSONDecodeError (issue 7). These tests race a writer and
readers over real files, and feed the reader a broken file. A waiting consumer is woken by inotify
when a message arrives; the polling stays as the fallback.
"""

import json
import os
import subprocess
import sys
import threading
import time

import pytest
from kombu import Connection

from cohort.celery import app  # noqa: F401  (registers the transport for filesystem://)
from cohort.core import filesystem_broker


def connection(folder, polling_interval=0.01):
    options = {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
        "polling_interval": polling_interval,
    }
    for name in ("queue", "processed", "control"):
        (folder / name).mkdir(exist_ok=True)
    return Connection("filesystem://", transport_options=options)


def test_filesystem_means_cohorts_transport(tmp_path):
    with connection(tmp_path) as conn:
        assert type(conn.transport).__module__ == "cohort.core.filesystem_broker"


def test_readers_racing_a_writer_get_every_message_whole_and_once(tmp_path):
    total, received, errors = 3000, [], []
    lock = threading.Lock()
    done = threading.Event()

    def write():
        try:
            with connection(tmp_path) as conn:
                queue = conn.SimpleQueue("race")
                for n in range(total):
                    queue.put({"n": n, "pad": "x" * 512})
        except Exception as error:
            errors.append(error)
        finally:
            done.set()

    def read():
        try:
            with connection(tmp_path) as conn:
                queue = conn.SimpleQueue("race")
                while not (done.is_set() and len(received) >= total):
                    try:
                        message = queue.get(timeout=0.05)
                    except queue.Empty:
                        if done.is_set() and not any((tmp_path / "queue").glob("*.msg")):
                            return
                        continue
                    with lock:
                        received.append(message.payload["n"])
                    message.ack()
        except Exception as error:  # a JSONDecodeError here is the bug
            errors.append(error)

    with connection(tmp_path) as conn:
        conn.SimpleQueue("race").close()  # declared once first, as a worker does when it starts
    threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert sorted(received) == list(range(total))


def test_an_unreadable_message_is_dropped_and_the_next_one_delivered(tmp_path):
    with connection(tmp_path) as conn:
        queue = conn.SimpleQueue("broken")
        (tmp_path / "queue" / "0000_broken.broken.msg").write_bytes(b"")  # as a crashed writer left it
        queue.put({"n": 1})
        assert queue.get(timeout=5).payload == {"n": 1}
        assert not list((tmp_path / "queue").glob("*.msg"))


# --- the wake-up: a waiting consumer takes a message as it arrives, not at its next poll ---------------

SLOW_POLL = 60.0  # a consumer that only polled would take a minute to see a message


def publish_from_another_process(folder, payload):
    """Put `payload` on queue "wake" from a separate Python process, as the web process does."""
    code = (
        "import json, sys\n"
        "from kombu import Connection\n"
        "folder = sys.argv[1]\n"
        "options = {'data_folder_in': folder + '/queue', 'data_folder_out': folder + '/queue',\n"
        "           'processed_folder': folder + '/processed', 'control_folder': folder + '/control'}\n"
        "with Connection('filesystem://', transport='cohort.core.filesystem_broker:Transport',\n"
        "                transport_options=options) as conn:\n"
        "    conn.SimpleQueue('wake').put(json.loads(sys.argv[2]))\n"
    )
    subprocess.run([sys.executable, "-c", code, str(folder), json.dumps(payload)], check=True, timeout=60)


def consume_in_thread(conn, queue_name, timeout):
    """Start a thread that waits for one message on `queue_name` through `drain_events`; returns the
    thread and a dict that gets the payload, the seconds the wait took and the drains that ended empty."""
    got = {}
    queue = conn.SimpleQueue(queue_name)

    def consume():  # as Celery's loop does: drain again and again (each drain ends after one interval)
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            try:
                message = queue.get(timeout=timeout)
            except queue.Empty:
                got["drains"] = got.get("drains", 0) + 1
                continue
            got.update(payload=message.payload, waited=time.monotonic() - started)
            message.ack()
            return

    thread = threading.Thread(target=consume)
    thread.start()
    return thread, got


@pytest.mark.skipif(filesystem_broker.inotify_simple is None, reason="inotify is Linux's")
def test_a_waiting_consumer_is_woken_by_a_message_published_in_another_process(tmp_path, monkeypatch):
    waiting = threading.Event()
    wait = filesystem_broker.Arrivals.wait

    def wait_and_say_so(self, timeout):
        waiting.set()  # the consumer listed the empty queue and now waits
        return wait(self, timeout)

    monkeypatch.setattr(filesystem_broker.Arrivals, "wait", wait_and_say_so)
    with connection(tmp_path, polling_interval=SLOW_POLL) as conn:
        thread, got = consume_in_thread(conn, "wake", timeout=2 * SLOW_POLL)
        assert waiting.wait(30)
        publish_from_another_process(tmp_path, {"n": 1})
        thread.join(2 * SLOW_POLL)
    assert got["payload"] == {"n": 1}
    assert got["waited"] < SLOW_POLL / 2, "the consumer slept out its polling interval"


def test_a_lost_wake_up_still_delivers_at_the_next_poll(tmp_path, monkeypatch):
    waits = []

    def deaf(self, timeout):  # as if the notification never came: sleep the whole wait out
        waits.append(timeout)
        time.sleep(timeout)
        return False

    monkeypatch.setattr(filesystem_broker.Arrivals, "wait", deaf)
    with connection(tmp_path, polling_interval=0.2) as conn:
        thread, got = consume_in_thread(conn, "wake", timeout=SLOW_POLL)
        publish_from_another_process(tmp_path, {"n": 2})
        thread.join(SLOW_POLL)
    assert got["payload"] == {"n": 2}
    if filesystem_broker.inotify_simple is not None:
        assert waits and max(waits) <= 0.2  # each wait is bounded by the polling interval


def test_without_inotify_the_consumer_polls(tmp_path, monkeypatch):
    monkeypatch.setattr(filesystem_broker, "inotify_simple", None)
    with connection(tmp_path, polling_interval=0.05) as conn:
        thread, got = consume_in_thread(conn, "wake", timeout=SLOW_POLL)
        publish_from_another_process(tmp_path, {"n": 3})
        thread.join(SLOW_POLL)
    assert got["payload"] == {"n": 3}
    assert conn.transport._arrivals is None


def test_an_idle_wait_lists_the_queue_a_few_times_not_in_a_loop(tmp_path, monkeypatch):
    listings = []
    listdir = os.listdir
    monkeypatch.setattr(filesystem_broker.os, "listdir", lambda path: listings.append(path) or listdir(path))
    with connection(tmp_path, polling_interval=0.5) as conn:
        queue = conn.SimpleQueue("idle")
        with pytest.raises(queue.Empty):
            queue.get(timeout=1.0)
    # A drain lists the queue once, waits up to the interval, and lists it once more: a few listings
    # per interval, where a busy loop would make thousands.
    assert 1 <= len(listings) <= 12
