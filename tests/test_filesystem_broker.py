"""The embedded default's broker: kombu's file-system transport with an atomic publish.

kombu 5.6's own transport makes the message file and then writes it, so a reader racing the writer
reads an empty file and the worker dies of a JSONDecodeError (issue 7). These tests race a writer and
readers over real files, and feed the reader a broken file.
"""

import threading

from kombu import Connection

from cohort.celery import app  # noqa: F401  (registers the transport for filesystem://)


def connection(folder):
    options = {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
        "polling_interval": 0.01,
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
