"""`python -m cohort_lab`: run the lab in the foreground until SIGTERM or SIGINT.

It starts Nova's stack, serves the compute API on 127.0.0.1, writes `lab.json` (endpoint, pid, image
and flavor ids) into the state directory once requests can be served, and prints one ready line. On
SIGTERM or SIGINT, or when the process named by `--parent-pid` is gone, it stops the HTTP server and
every Nova service, removes `lab.json` and exits 0, so a test run that dies leaves no lab behind.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path

from cohort_lab.client import FLAVOR_ID, IMAGE_ID
from cohort_lab.process import READY_FILE

LOG_FILE = "nova.log"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m cohort_lab", description="Run a real Nova locally.")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--state-dir", type=Path, required=True, help="where lab.json and nova.log go")
    parser.add_argument("--hosts", type=int, default=3, help="number of fake compute hosts")
    parser.add_argument("--parent-pid", type=int, default=0, help="stop when this process is gone")
    return parser.parse_args(argv)


def _write_ready(state_dir: Path, info: dict) -> None:
    partial = state_dir / (READY_FILE + ".partial")
    partial.write_text(json.dumps(info, indent=2))
    partial.replace(state_dir / READY_FILE)  # atomic: a reader sees all of it or nothing


def _log_to_file(path: Path) -> None:
    """Send Nova's log to a file instead of the harness's in-memory capture, which only grows."""
    handler = logging.FileHandler(path)
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(name)s] %(message)s"))
    logging.getLogger().handlers = [handler]


def _use_temp_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    os.environ["TMPDIR"] = str(path)
    tempfile.tempdir = None  # forget any directory chosen before


def _watch_parent(parent_pid: int, stop: threading.Event) -> None:
    while not stop.wait(1.0):
        if os.getppid() != parent_pid:
            stop.set()


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    args.state_dir.mkdir(parents=True, exist_ok=True)
    (args.state_dir / READY_FILE).unlink(missing_ok=True)
    # Native threads, not eventlet; oslo.config must not read this program's own flags; and the
    # harness's temporary files (SQLite databases, lock files) go under the state directory.
    os.environ["OS_NOVA_DISABLE_EVENTLET_PATCHING"] = "1"
    sys.argv = sys.argv[:1]
    _use_temp_dir(args.state_dir / "tmp")
    from cohort_lab import stack, wsgi  # imported only now: importing nova decides monkey patching

    if stack.IMAGE_ID != IMAGE_ID:
        raise SystemExit(f"Nova's Glance fixture image is {stack.IMAGE_ID}, cohort_lab expects {IMAGE_ID}")

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    nova = stack.start_stack(hosts=args.hosts)
    _log_to_file(args.state_dir / LOG_FILE)
    server = wsgi.make_server(wsgi.tenant_auth(nova.wsgi_app()), args.port)
    threading.Thread(target=server.serve_forever, name="lab-http", daemon=True).start()
    if args.parent_pid:
        threading.Thread(target=_watch_parent, args=(args.parent_pid, stop), daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_port}/v2.1"
    info = {
        "endpoint": endpoint,
        "pid": os.getpid(),
        "image_id": stack.IMAGE_ID,
        "flavor_id": FLAVOR_ID,
        "hosts": list(nova.hosts),
    }
    _write_ready(args.state_dir, info)
    print(f"cohort-lab ready: {endpoint}", flush=True)
    try:
        stop.wait()
    finally:
        (args.state_dir / READY_FILE).unlink(missing_ok=True)
        server.shutdown()
        server.server_close()
        nova.stop()
    shutil.rmtree(args.state_dir / "tmp", ignore_errors=True)
    print("cohort-lab stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
