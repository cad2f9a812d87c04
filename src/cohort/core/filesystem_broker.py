"""kombu's file-system transport, made safe for a reader that runs beside a writer.

The embedded default needs a broker that crosses processes without a server. kombu 5.6's filesystem
transport creates a message file under its final name and then writes it, so a worker that lists the
folder in between reads an empty file and dies with a `JSONDecodeError` (seen 3 times in 15,575
messages). This channel writes each message under a name no reader looks at and renames it into
place, which is atomic within one folder; it takes a message by renaming it into the processed
folder (beside the queue, so the rename is atomic too and only one reader wins it); the table that
binds queues to exchanges is rewritten whole and renamed into place, for the same race; a file it cannot
decode is logged and dropped instead of killing the worker; and a worker waiting for messages looks
up every polling interval, so it acknowledges what it ran without delay. A message is still lost if
a worker dies after taking it: the durable intent of `cohort.core.intent` makes that harmless.

A waiting worker does not sleep out the interval: on Linux it waits on inotify for a message file
to be renamed into its queue folder, so a message is taken within a millisecond or two of its
publication, whichever process published it, and an idle worker uses no CPU between its rounds.
The watch is set before the folder is listed, so a message that arrives between the listing and the
wait wakes it at once; anything inotify cannot do (another system, the per-user limit of inotify
instances reached) leaves the plain polling, which loses nothing but the wake-up.

Written here rather than taken from a library because no maintained server-less transport for kombu
does this; it is two methods over kombu's own channel.
"""

from __future__ import annotations

import logging
import math
import os
import uuid
from queue import Empty
from time import monotonic, sleep

from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

try:
    import inotify_simple
except ImportError:  # not Linux: the worker polls
    inotify_simple = None

logger = logging.getLogger(__name__)


class Arrivals:
    """Waits for message files to arrive in watched folders (inotify: a file renamed into one)."""

    def __init__(self) -> None:
        self._inotify = inotify_simple.INotify()
        self._watched: set[str] = set()

    def watch(self, folder: os.PathLike | str) -> None:
        folder = os.fspath(folder)
        if folder not in self._watched:
            self._inotify.add_watch(folder, inotify_simple.flags.MOVED_TO)
            self._watched.add(folder)

    def wait(self, timeout: float) -> bool:
        """Whether something arrived (since the last wait) within `timeout` seconds."""
        return bool(self._inotify.read(timeout=max(1, math.ceil(timeout * 1000))))

    def close(self) -> None:
        self._inotify.close()


class Channel(filesystem.Channel):
    def _queue_bind(self, exchange, routing_key, pattern, queue):
        # kombu creates the exchange table and then writes it, so a process declaring the same queue
        # at that moment reads an empty table and fails; the table is rewritten whole and renamed into
        # place instead, under a lock of its own.
        self.control_folder.mkdir(exist_ok=True)
        table_file = self.control_folder / f"{exchange}.exchange"
        entry = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        with open(self.control_folder / f".{exchange}.lock", "a") as guard:
            filesystem.lock(guard, filesystem.LOCK_EX)
            try:
                raw = table_file.read_bytes() if table_file.exists() else b"[]"
                table = [filesystem.exchange_queue_t(*item) for item in loads(bytes_to_str(raw))]
                if entry not in table:
                    table.insert(0, entry)
                    partial = self.control_folder / f".partial-{uuid.uuid4().hex}"
                    partial.write_bytes(str_to_bytes(dumps(table)))
                    os.replace(partial, table_file)
            finally:
                filesystem.unlock(guard)

    def _put(self, queue, payload, **kwargs):
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        partial = os.path.join(self.data_folder_out, f".partial-{uuid.uuid4().hex}")
        with open(partial, "wb") as file:
            file.write(str_to_bytes(dumps(payload)))
        os.replace(partial, os.path.join(self.data_folder_out, name))

    def _get(self, queue):
        suffix = f".{queue}.msg"
        taken_folder = self.processed_folder
        for name in sorted(os.listdir(self.data_folder_in)):
            if not name.endswith(suffix):
                continue
            taken = os.path.join(taken_folder, name)
            try:
                os.replace(os.path.join(self.data_folder_in, name), taken)
            except OSError:
                continue  # another reader took it
            try:
                with open(taken, "rb") as file:
                    raw = file.read()
            finally:
                if not self.store_processed:
                    os.remove(taken)
            try:
                return loads(bytes_to_str(raw))
            except ValueError:
                logger.error("dropped an unreadable message %s (%d bytes) from queue %s", name, len(raw), queue)
        raise Empty()


class Transport(filesystem.Transport):
    Channel = Channel
    _arrivals: Arrivals | None = None
    _arrivals_failed = False

    @property
    def default_connection_params(self):
        # A folder, not a host: with kombu's default ('localhost') every connection without a host
        # in its URL logged "No hostname was supplied", which no user can act on.
        return {"port": self.default_port}

    def drain_events(self, connection, timeout=None):
        # Celery's loop without an event hub acknowledges messages only between calls of this, and
        # kombu's own waits out the whole timeout (2 s) when the prefetch window is full, so a worker
        # would take a few messages every two seconds. Return after one polling interval instead.
        interval = self.polling_interval or 0.2
        deadline = monotonic() + (min(timeout, interval) if timeout else interval)
        arrivals = self._watching()  # before the listing: what arrives after it wakes the wait below
        while True:
            try:
                self.cycle.get(self._deliver, timeout=timeout)
                return
            except Empty:
                remaining = deadline - monotonic()
                if remaining <= 0:
                    raise TimeoutError() from None  # socket.timeout, what kombu's callers expect
                if arrivals is not None:
                    arrivals.wait(remaining)
                else:
                    sleep(remaining)

    def close_connection(self, connection):
        if self._arrivals is not None:
            self._arrivals.close()
            self._arrivals = None
        super().close_connection(connection)

    def _watching(self) -> Arrivals | None:
        """The watch on every channel's queue folder, made on first use; None where there is none."""
        if inotify_simple is None or self._arrivals_failed:
            return None
        try:
            if self._arrivals is None:
                self._arrivals = Arrivals()
            for channel in self.channels:
                self._arrivals.watch(channel.data_folder_in)
        except OSError as error:  # the limit of inotify instances or watches
            self._arrivals_failed = True
            if self._arrivals is not None:
                self._arrivals.close()
                self._arrivals = None
            logger.warning("no inotify (%s): waiting for messages by polling every %s s", error,
                           self.polling_interval)  # fmt: skip
        return self._arrivals
