"""`python -m cohort_lab.identity`: the lab's Keystone, in a process of its own.

Keystone keeps its configuration in oslo.config's process-wide `CONF`, as Nova does, and the two
register options of the same names differently, so Keystone cannot share the Nova process. The lab
process starts this one with a listening socket already bound on 127.0.0.1 (passed as a file
descriptor, so the port is known before Keystone is up and nothing can take it meanwhile). Here it
does what an operator does with `keystone-manage`: writes `keystone.conf` into the state directory,
syncs the SQLite database (`db_sync`), creates the Fernet key repositories (`fernet_setup`) unless
they exist, and bootstraps the admin user, project and role, the region and the identity endpoint
(`bootstrap`, which also moves the endpoint to this run's port). Then it serves Keystone's own WSGI
application until SIGTERM, or until the lab process that started it is gone, and writes
`keystone.json` once it serves. Everything persists in the state directory: a second start finds its
users, projects, catalog and keys again.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import shutil
import signal
import socket
import sys
import threading
from pathlib import Path

READY_FILE = "keystone.json"
CONF_FILE = "keystone.conf"
DATABASE = "keystone.sqlite"
LOG_FILE = "keystone.log"
REGION = "RegionOne"
ADMIN_PROJECT = "admin"
FERNET_REPOSITORIES = {"fernet_tokens": "fernet-keys", "fernet_receipts": "fernet-receipts"}
FERNET_ACTIVE_KEYS = 3  # keystone's default

KEYSTONE_CONF = """\
[DEFAULT]
log_file = {log_file}
use_stderr = false

[database]
connection = sqlite:///{database}

[token]
provider = fernet
expiration = {expiration}

[fernet_tokens]
key_repository = {state}/fernet-keys
max_active_keys = {active_keys}

[fernet_receipts]
key_repository = {state}/fernet-receipts
max_active_keys = {active_keys}

[cache]
# Tokens, roles and assignments cached in the process: without it every request pays for a full
# token validation (about a seventh of a second here).
enabled = true
backend = dogpile.cache.memory

[identity]
# The lab's passwords guard nothing but a loopback lab: hash them with bcrypt's fewest rounds, so
# that creating a tenant or logging in costs milliseconds, not a quarter of a second.
password_hash_rounds = 4
"""


ADMIN_PASSWORD_ENV = "COHORT_LAB_ADMIN_PASSWORD"
SCHEMA_CACHE_ENV = "COHORT_LAB_CACHE"  # where the empty schema is kept (default ~/.cache/cohort-lab)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m cohort_lab.identity", description="Run the lab's Keystone.")
    parser.add_argument("--socket-fd", type=int, required=True, help="a listening socket on 127.0.0.1")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--token-expiration", type=int, default=3600, help="seconds a token lives")
    parser.add_argument("--parent-pid", type=int, default=0, help="stop when this process is gone")
    return parser.parse_args(argv)


def _write_conf(state_dir: Path, expiration: int) -> Path:
    path = state_dir / CONF_FILE
    text = KEYSTONE_CONF.format(
        log_file=state_dir / LOG_FILE,
        database=state_dir / DATABASE,
        state=state_dir,
        expiration=expiration,
        active_keys=FERNET_ACTIVE_KEYS,
    )
    path.write_text(text)
    return path


def _schema_template() -> Path:
    """Where a freshly synced, empty database of this Keystone version is kept for the next first start."""
    cache = os.environ.get(SCHEMA_CACHE_ENV) or Path.home() / ".cache" / "cohort-lab"
    return Path(cache) / f"keystone-{importlib.metadata.version('keystone')}.sqlite"


def _prepare(conf: Path, database: Path, public_url: str, admin_password: str) -> None:
    """Read `conf`, then `keystone-manage db_sync` and `bootstrap` (both idempotent); loads the backends.

    A first start copies the empty schema an earlier first start kept (`_schema_template`): building it
    runs some seventy migrations, six to seven seconds of a lab's start; db_sync then finds nothing to do."""
    import keystone.server
    from keystone.cmd import bootstrap
    from keystone.common.sql import upgrades

    template = _schema_template()
    fresh = not database.exists()
    if fresh and template.exists():
        shutil.copyfile(template, database)
    keystone.server.configure(config_files=[str(conf)])
    upgrades.offline_sync_database_to_version()
    if fresh and not template.exists():
        template.parent.mkdir(parents=True, exist_ok=True)
        partial = template.with_name(f"{template.name}.{os.getpid()}")
        shutil.copyfile(database, partial)
        partial.replace(template)  # whole or not at all, whoever else writes it meanwhile
    bootstrapper = bootstrap.Bootstrapper()
    bootstrapper.admin_username = "admin"
    bootstrapper.admin_password = admin_password
    bootstrapper.project_name = ADMIN_PROJECT
    bootstrapper.admin_role_name = "admin"
    bootstrapper.region_id = REGION
    bootstrapper.service_name = "keystone"
    bootstrapper.public_url = public_url
    bootstrapper.bootstrap()


def _fernet_setup(state_dir: Path) -> None:
    """`keystone-manage fernet_setup`: key repositories for tokens and receipts, unless they exist."""
    from keystone.common import fernet_utils

    for group in ("fernet_tokens", "fernet_receipts"):
        keys = fernet_utils.FernetUtils(str(state_dir / FERNET_REPOSITORIES[group]), FERNET_ACTIVE_KEYS, group)
        keys.create_key_directory()
        keys.initialize_key_repository()


def _application():
    """Keystone's WSGI application, as `keystone.server.flask.core.initialize_application` builds it
    once the configuration is read and the backends are loaded (which `_prepare` did)."""
    from keystone.server.flask import application, core

    return core.setup_app_middleware(application.application_factory("public"))


def _watch_parent(parent_pid: int, stop: threading.Event) -> None:
    while not stop.wait(1.0):
        if os.getppid() != parent_pid:
            stop.set()


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    sys.argv = sys.argv[:1]  # oslo.config must not read this program's own flags
    state_dir = args.state_dir
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / READY_FILE).unlink(missing_ok=True)
    listener = socket.socket(fileno=args.socket_fd)
    port = listener.getsockname()[1]
    public_url = f"http://127.0.0.1:{port}"

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.parent_pid:
        threading.Thread(target=_watch_parent, args=(args.parent_pid, stop), daemon=True).start()

    conf = _write_conf(state_dir, args.token_expiration)
    _fernet_setup(state_dir)
    _prepare(conf, state_dir / DATABASE, public_url, os.environ.pop(ADMIN_PASSWORD_ENV))
    application = _application()
    from cohort_lab import wsgi

    server = wsgi.serve_on(wsgi.serialised(application), listener)
    threading.Thread(target=server.serve_forever, name="keystone-http", daemon=True).start()
    partial = state_dir / (READY_FILE + ".partial")
    partial.write_text(json.dumps({"auth_url": f"{public_url}/v3", "pid": os.getpid()}))
    partial.replace(state_dir / READY_FILE)
    try:
        stop.wait()
    finally:
        (state_dir / READY_FILE).unlink(missing_ok=True)
        server.shutdown()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
