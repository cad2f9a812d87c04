"""`python -m cohort_lab`: run the lab in the foreground until SIGTERM or SIGINT.

It starts the lab's Keystone in a child process (`cohort_lab.identity`) and Nova's stack in this
one, meanwhile. Both keep their databases in the state directory (`keystone/` and `nova/`) and find
them again on the next start; `--reset` forgets them first. Once Keystone answers it registers Nova
there (its service user, and the compute endpoint in the catalog) as an operator would, serves the
compute API on 127.0.0.1 (with the lab's control endpoint in front, `cohort_lab.control`), writes
`lab.json` (Keystone's URL, the admin password, the compute endpoint, the control secret, pid, image
and flavor ids, the compute hosts; readable by its owner only, rewritten when a host is added) into
the state directory, and prints one ready line. On SIGTERM or SIGINT, or when the process named by
`--parent-pid` is gone, it stops the HTTP server, every Nova service and Keystone, removes `lab.json`
and exits 0, so a test run that dies leaves no lab behind.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from cohort_lab.client import FLAVOR_ID, IMAGE_ID
from cohort_lab.process import READY_FILE, reset_state

LOG_FILE = "nova.log"
NOVA_DIR = "nova"  # Nova's and placement's databases, kept from one start to the next


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m cohort_lab", description="Run a real Nova locally.")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--state-dir", type=Path, required=True, help="where lab.json and nova.log go")
    parser.add_argument("--hosts", type=int, default=3, help="number of fake compute hosts")
    parser.add_argument("--parent-pid", type=int, default=0, help="stop when this process is gone")
    parser.add_argument("--token-expiration", type=int, default=3600, help="seconds a Keystone token lives")
    parser.add_argument(
        "--max-limit", type=int, default=1000, help="Nova's [api] max_limit: most items in a page of a listing"
    )
    parser.add_argument("--reset", action="store_true", help="forget the kept state: start empty")
    return parser.parse_args(argv)


def _write_ready(state_dir: Path, info: dict) -> None:
    partial = state_dir / (READY_FILE + ".partial")
    partial.touch(mode=0o600)  # it holds the admin password
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


def _start_keystone(args: argparse.Namespace, admin_password: str) -> tuple[subprocess.Popen, str]:
    """Start the lab's Keystone in its own process on a socket bound here; return it and its /v3 URL."""
    from cohort_lab import identity, wsgi

    listener = wsgi.listen()
    port = listener.getsockname()[1]
    state_dir = args.state_dir / "keystone"
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / identity.READY_FILE).unlink(missing_ok=True)
    command = [
        sys.executable, "-m", "cohort_lab.identity",
        "--socket-fd", str(listener.fileno()),
        "--state-dir", str(state_dir),
        "--token-expiration", str(args.token_expiration),
        "--parent-pid", str(os.getpid()),
    ]  # fmt: skip
    # The password goes in the environment: argv shows in ps, and a value starting with "-" is an option to argparse.
    env = {**os.environ, identity.ADMIN_PASSWORD_ENV: admin_password}
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, pass_fds=(listener.fileno(),), env=env)
    listener.close()  # the child holds it now
    return process, f"http://127.0.0.1:{port}/v3"


def _wait_for_keystone(process: subprocess.Popen, state_dir: Path, timeout: float = 60.0) -> None:
    from cohort_lab import identity

    ready = state_dir / "keystone" / identity.READY_FILE
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"The lab's Keystone exited with code {process.returncode}; see keystone/keystone.log")
        if ready.exists() and json.loads(ready.read_text()).get("pid") == process.pid:
            return
        time.sleep(0.05)
    raise SystemExit(f"The lab's Keystone was not ready after {timeout} s; see keystone/keystone.log")


def _stop(process: subprocess.Popen, timeout: float = 10.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    args.state_dir.mkdir(parents=True, exist_ok=True)
    (args.state_dir / READY_FILE).unlink(missing_ok=True)
    if args.reset:
        reset_state(args.state_dir)
    # Native threads, not eventlet; oslo.config must not read this program's own flags; and the
    # harness's temporary files (SQLite databases, lock files) go under the state directory.
    os.environ["OS_NOVA_DISABLE_EVENTLET_PATCHING"] = "1"
    sys.argv = sys.argv[:1]
    _use_temp_dir(args.state_dir / "tmp")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    admin_password = secrets.token_urlsafe(18)
    service_password = secrets.token_urlsafe(18)
    # Keystone starts first, in its own process, and sets itself up while Nova starts here.
    keystone, auth_url = _start_keystone(args, admin_password)
    try:
        return _run(args, stop, keystone, auth_url, admin_password, service_password)
    finally:
        _stop(keystone)


def _run(
    args: argparse.Namespace,
    stop: threading.Event,
    keystone: subprocess.Popen,
    auth_url: str,
    admin_password: str,
    service_password: str,
) -> int:
    from cohort_lab import client, stack, wsgi  # imported only now: importing nova decides monkey patching

    if stack.IMAGE_ID != IMAGE_ID:
        raise SystemExit(f"Nova's Glance fixture image is {stack.IMAGE_ID}, cohort_lab expects {IMAGE_ID}")
    listener = wsgi.listen(args.port)
    endpoint = f"http://127.0.0.1:{listener.getsockname()[1]}/v2.1"
    keystone_options = stack.authtoken_options(auth_url, service_password)
    nova = stack.start_stack(
        hosts=args.hosts, keystone=keystone_options, databases=args.state_dir / NOVA_DIR, max_limit=args.max_limit
    )
    try:
        _log_to_file(args.state_dir / LOG_FILE)
        _wait_for_keystone(keystone, args.state_dir)
        admin = client.admin_access(auth_url, admin_password)
        client.register_service(admin, stack.SERVICE_USER, stack.SERVICE_PROJECT, service_password, endpoint)
        _serve(args, stop, nova, listener, endpoint, auth_url, admin_password)
    finally:
        nova.stop()
    shutil.rmtree(args.state_dir / "tmp", ignore_errors=True)
    print("cohort-lab stopped", flush=True)
    return 0


def _serve(args, stop, nova, listener, endpoint: str, auth_url: str, admin_password: str) -> None:
    """Serve Nova's API on `listener` and say so in `lab.json`, until `stop` is set."""
    from cohort_lab import client, control, stack, wsgi

    def add_host(name: str) -> list[str]:
        nova.add_host(name)  # HostExists, a ValueError, when the lab has it
        info["hosts"] = list(nova.hosts)
        _write_ready(args.state_dir, info)
        return list(nova.hosts)

    secret = secrets.token_urlsafe(24)
    app = control.routed(nova.wsgi_app(), secret, add_host)
    server = wsgi.serve_on(wsgi.serialised(app), listener)
    threading.Thread(target=server.serve_forever, name="lab-http", daemon=True).start()
    if args.parent_pid:
        threading.Thread(target=_watch_parent, args=(args.parent_pid, stop), daemon=True).start()
    info = {
        "endpoint": endpoint,
        "auth_url": auth_url,
        "region": client.REGION,
        "admin_password": admin_password,
        control.SECRET_KEY: secret,
        "pid": os.getpid(),
        "image_id": stack.IMAGE_ID,
        "flavor_id": FLAVOR_ID,
        "hosts": list(nova.hosts),
        "max_limit": args.max_limit,
    }
    _write_ready(args.state_dir, info)
    print(f"cohort-lab ready: Keystone {auth_url}, Nova {endpoint}", flush=True)
    try:
        stop.wait()
    finally:
        (args.state_dir / READY_FILE).unlink(missing_ok=True)
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
