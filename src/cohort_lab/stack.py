"""The Nova stack of the lab: Nova's own functional-test harness, started as a program.

Nova ships its integrated test base in the wheel. Subclassing it and calling `setUp()` outside a test
runner brings up, in this one process, the API, conductor, scheduler, placement, fake Glance and
Neutron and several fake compute hosts, wired over the in-memory RPC transport with casts turned into
calls, so every boot finishes inside its API request (a cast that fails is logged, not raised to its
caller, as over a real message bus: a cold migration that finds no host is a 202 and a migration in
`error`, as on a real cloud). Changed from the harness's defaults: the API is
Nova's real paste pipeline, whose `authtoken` filter (keystonemiddleware) validates every token
against the lab's Keystone as Nova's service user, and whose context filter takes the user, project
and roles from the validated token (the harness would stub both and trust request headers); the compute
hosts (three by default, host1..hostN, with `fake.FakeDriver`'s practically unlimited capacity, so a
server fails to schedule only because of its group's policy), the paste config (the one installed with
nova), and the quotas: unlimited, so a project can hold thousands of groups (an admin can still set a
per-project quota through `os-quota-sets`, as on a real cloud), the compute hosts' late check of a
group's policy (off, so that an admin's forced host can break a policy), and without the post-create recheck,
which only guards against concurrent creates (the lab serves one request at a time) and costs a third
of every create. The scheduler reads the servers of each host from the database at every request
(`[filter_scheduler] track_instance_changes = False`) instead of from the compute hosts' updates,
which lag behind a move: a migration scheduled right after another would be judged against the
moved server's old host. Compute hosts can be added while the lab runs (`add_host`); each is mapped
in the API database, which is how a later start finds it again. One more change is for speed alone:
oslo.db gives file-backed SQLite a NullPool, so every query opened a new connection; the lab pools
them, as SQLAlchemy does by default, which makes creates and boots a third to a half faster.

Import this module only in the lab process, after `cohort_lab.__main__` chose native threading:
importing nova's test package decides eventlet monkey patching for the whole process.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import fixtures
import sqlalchemy
from nova import monkey_patch
from sqlalchemy import pool

monkey_patch.patch()  # before anything imports eventlet: honours OS_NOVA_DISABLE_EVENTLET_PATCHING

import oslo_messaging as messaging  # noqa: E402 - it imports eventlet
from nova import context as nova_context  # noqa: E402
from nova import exception, objects  # noqa: E402
from nova import service as nova_service  # noqa: E402
from nova.compute import power_state, vm_states  # noqa: E402
from nova.tests import fixtures as nova_fixtures  # noqa: E402
from nova.tests.fixtures import glance as glance_fixture  # noqa: E402
from nova.tests.functional import integrated_helpers  # noqa: E402
from nova.virt import fake  # noqa: E402
from oslo_utils.fixture import uuidsentinel  # noqa: E402
from placement.tests import fixtures as placement_fixtures  # noqa: E402

LOG = logging.getLogger("cohort_lab")

IMAGE_ID = glance_fixture.GlanceFixture.image1["id"]
AUTHTOKEN_GROUP = "keystone_authtoken"
SERVICE_USER = "nova"  # Nova's own Keystone user, which validates the tokens of its callers
SERVICE_PROJECT = "service"
UNLIMITED_QUOTAS = ("instances", "cores", "ram", "server_groups", "server_group_members")
DEFAULT_MAX_LIMIT = 1000  # Nova's own default for [api] max_limit
FAKE_TRANSPORT = "fake://nowhere/"  # the harness's: RPC stays in this process
# The harness names its cell, its compute nodes and its API service by uuid sentinels, random in each
# process; the databases keep them, so the lab derives them from their names instead.
SENTINEL_NAMESPACE = uuid.UUID("7d0c2f5e-6a47-4a8e-9d2b-2f0c9b1e4c11")
DATABASE_FILES = {"api": "nova_api", "cell0": "nova_cell0", "cell1": "nova_cell1", "placement": "placement"}


class LabFakeDriver(fake.FakeDriver):
    """Nova's `FakeDriver`, whose hypervisor outlives nova-compute, as a real one does.

    `FakeDriver` holds its servers in memory only, so a compute service started on a kept database
    would find every server of its host missing: `_init_instance` reads their power state as NOSTATE.
    This one, on `init_host`, takes up again the servers the cell database places on its host, in their
    last recorded power state, before the compute manager looks at them.
    """

    def init_host(self, host: str) -> None:
        super().init_host(host)
        context = nova_context.get_admin_context()  # the harness targets it at the host's cell
        for instance in objects.InstanceList.get_by_host(context, host, expected_attrs=["flavor"]):
            if instance.vm_state in (vm_states.BUILDING, vm_states.DELETED, vm_states.SOFT_DELETED):
                continue
            state = instance.power_state or power_state.RUNNING
            self.instances[instance.uuid] = fake.FakeInstance(instance.name, state, instance.uuid)
            flavor = instance.flavor
            self.resources.claim(vcpus=flavor.vcpus, mem=flavor.memory_mb, disk=flavor.root_gb)
        if self.instances:
            LOG.info("%s: %d servers taken up again", host, len(self.instances))

    def post_live_migration(self, context, instance, block_device_info, migrate_data=None) -> None:
        """The server has left this host: forget it here, as a hypervisor would (Nova's own
        `FakeLiveMigrateDriver` does the same), so the source host no longer counts it."""
        self.destroy(context, instance, network_info=None, block_device_info=block_device_info)


class _DefaultFlavorsOnce(nova_fixtures.DefaultFlavorsFixture):
    """The harness's default flavors, made only in a new database."""

    def setUp(self) -> None:
        try:
            objects.Flavor.get_by_flavor_id(nova_context.get_admin_context(), "1")
        except exception.FlavorNotFound:
            super().setUp()
        else:
            fixtures.Fixture.setUp(self)


class _LabStack(integrated_helpers._IntegratedTestBase):
    """The harness with three compute hosts and lab quotas; `setUp()` starts it, `stop()` ends it."""

    STUB_KEYSTONE = False  # the real authtoken and keystonecontext filters, against the lab's Keystone
    CAST_AS_CALL = False  # the lab's own `_CastAsLoggedCall`, set up in `_setup_services`
    hosts: tuple[str, ...] = ("host1", "host2", "host3")
    keystone: dict[str, str] = {}  # [keystone_authtoken] options: where Keystone is, Nova's service user
    databases: Path | None = None  # where Nova's and placement's SQLite files are kept (None: temporary)
    max_limit: int = DEFAULT_MAX_LIMIT  # [api] max_limit

    def lab(self) -> None:
        """The harness needs a test method to name; the lab never runs one."""

    def setUp(self) -> None:
        self.useFixture(fixtures.MonkeyPatch("sqlalchemy.create_engine", _pooled_sqlite(sqlalchemy.create_engine)))
        if self.databases is not None:
            self._keep_databases(self.databases)
        super().setUp()

    def _keep_databases(self, directory: Path) -> None:
        """Nova's API, cell0 and cell1 databases and placement's in `directory`, found again on a later
        start: the harness would make new temporary ones each time, then seed them with flavors and
        cell and host mappings, which a kept database already has."""
        directory.mkdir(parents=True, exist_ok=True)
        for name in ("cell1", "osapi_host", "metadata_host", *(f"node_{host}" for host in self.hosts)):
            uuidsentinel._sentinels[name] = str(uuid.uuid5(SENTINEL_NAMESPACE, name))  # no public setter
        files = {
            "api": DATABASE_FILES["api"],
            "placement": DATABASE_FILES["placement"],
            objects.CellMapping.CELL0_UUID: DATABASE_FILES["cell0"],
            uuidsentinel.cell1: DATABASE_FILES["cell1"],
        }
        kept = _kept_sqlite(directory, files)
        # By module object: the package nova.tests.fixtures re-exports the name `nova` (the top package)
        # over its submodule of that name, so a dotted path would patch the wrong module.
        for where in ("nova.tests.fixtures.nova", "nova.tests.functional.fixtures"):
            self.useFixture(fixtures.MockPatchObject(sys.modules[where], "_use_file_backed_sqlite_with_wal", kept))
        # oslo.db's ad-hoc database fixture, under placement's, deletes its SQLite file when it ends.
        self.useFixture(fixtures.MockPatchObject(placement_fixtures.Database, "_cleanup", _keep_file))
        cache_schema = nova_fixtures.CellDatabases._cache_schema
        self.useFixture(
            fixtures.MonkeyPatch("nova.tests.fixtures.CellDatabases._cache_schema", _schema_once(cache_schema))
        )
        self.useFixture(fixtures.MonkeyPatch("nova.tests.fixtures.DefaultFlavorsFixture", _DefaultFlavorsOnce))
        # The harness ends each service with `kill`, which deletes its record (and a compute service's
        # nodes) from the database: a compute host started again would be a new host holding servers,
        # which Nova refuses. The lab stops its services, as an operator does.
        self.useFixture(fixtures.MockPatchObject(nova_service.Service, "kill", nova_service.Service.stop))

    def _setup_cells(self) -> None:
        """cell0 and cell1 with their mappings, as the harness makes them, or found again."""
        databases = nova_fixtures.CellDatabases()
        context = nova_context.get_context()
        for name, cell_uuid in (("cell0", objects.CellMapping.CELL0_UUID), ("cell1", uuidsentinel.cell1)):
            try:
                cell = objects.CellMapping.get_by_uuid(context, cell_uuid)
            except exception.CellMappingNotFound:
                cell = objects.CellMapping(
                    context=context,
                    uuid=cell_uuid,
                    name=name,
                    transport_url=FAKE_TRANSPORT,
                    database_connection=cell_uuid,
                )
                cell.create()
            self.cell_mappings[name] = cell
            databases.add_cell_database(cell_uuid, default=name == "cell1")
        self.useFixture(databases)

    def _setup_services(self) -> None:
        self.useFixture(_CastAsLoggedCall(self))
        self.flags(api_paste_config=str(Path(sys.prefix) / "etc/nova/api-paste.ini"), group="wsgi")
        # Nova loads drivers from nova.virt only: the lab's is lent to nova.virt.fake while it runs.
        self.useFixture(fixtures.MonkeyPatch("nova.virt.fake.LabFakeDriver", LabFakeDriver))
        self.flags(compute_driver="fake.LabFakeDriver")
        self.flags(recheck_quota=False, group="quota")
        self.flags(max_limit=self.max_limit, group="api")
        # No late check of the group's policy on the compute host (many deployments turn it off for
        # cells isolation): the scheduler still enforces the policy at every boot, and the lab boots
        # one at a time, so the race the check guards against never happens; but an admin's forced
        # host (`nova:HOST`) can now break a policy, as an operator's forced move does.
        self.flags(disable_group_policy_check_upcall=True, group="workarounds")
        self.flags(track_instance_changes=False, group="filter_scheduler")
        _register_authtoken_options()
        self.flags(**self.keystone, group=AUTHTOKEN_GROUP)
        for quota in UNLIMITED_QUOTAS:
            self.flags(**{quota: -1}, group="quota")
        super()._setup_services()

    def _setup_compute_service(self):
        # Hosts mapped by an earlier start are mapped already: the harness would map them again. A
        # host added while an earlier start ran (`add_host`) is mapped too, and started again here.
        for mapping in objects.HostMappingList.get_all(nova_context.get_admin_context()):
            self.host_mappings[mapping.host] = mapping
        added = sorted(set(self.host_mappings) - set(self.hosts), key=_host_order)
        self.hosts = (*self.hosts, *added)
        for host in self.hosts:
            self._start_host(host)
        return self.computes[self.hosts[0]]

    def _start_host(self, host: str) -> None:
        # The node's uuid is derived from its name, so a host started again keeps its compute node.
        uuidsentinel._sentinels[f"node_{host}"] = str(uuid.uuid5(SENTINEL_NAMESPACE, f"node_{host}"))
        self._start_compute(host)

    def add_host(self, host: str) -> None:
        """Start a new fake compute host `host` while the lab runs, as an operator adds a hypervisor:
        its service and compute node are created, it is mapped to cell1 and reported to placement,
        so the scheduler may use it from the next request on. `HostExists` if the lab has it."""
        if host in self.hosts or host in self.host_mappings:
            raise HostExists(host)
        self._start_host(host)
        self.hosts = (*self.hosts, host)
        LOG.info("compute host %s added", host)

    def wsgi_app(self) -> Callable:
        """Nova's osapi_compute WSGI application, as the harness loaded it."""
        return self.api_fixture.app()

    def stop(self) -> None:
        """Run the harness's cleanups (services stopped, fixtures undone), newest first."""
        while self._cleanups:
            function, args, kwargs = self._cleanups.pop()
            try:
                function(*args, **kwargs)
            except Exception:  # a failed cleanup must not keep the others from running
                LOG.exception("lab cleanup %r failed", function)


class HostExists(ValueError):
    """The lab has a compute host of that name already."""


def _host_order(host: str) -> tuple[str, int, str]:
    """host2 before host10; other names after, by name."""
    prefix = host.rstrip("0123456789")
    digits = host[len(prefix) :]
    return (prefix, int(digits) if digits else -1, host)


class _CastAsLoggedCall(fixtures.Fixture):
    """RPC casts run as calls (the harness's `CastAsCallFixture`), but a cast that fails is logged
    and not raised to its caller, as over a real message bus, where the caller of a cast has long
    moved on: the API answers a cold migration 202 whether or not the conductor finds a host, and
    the failure shows where a real cloud shows it (the migration's status, the instance action)."""

    def __init__(self, testcase: integrated_helpers._IntegratedTestBase) -> None:
        super().__init__()
        self.testcase = testcase

    def setUp(self) -> None:
        super().setUp()
        self._stub_out(messaging.RPCClient)

    def _stub_out(self, cls: type) -> None:
        path = f"{cls.__module__}.{cls.__name__}"
        original_prepare = cls.prepare
        stub = self

        def prepare(client, *args, **kwargs):
            kwargs.pop("fanout", None)  # a fanout cast cannot run as a call
            context = original_prepare(client, *args, **kwargs)
            if not getattr(type(context), "_cohort_lab_logged", False):
                stub._stub_out(type(context))
            return context

        self.testcase.stub_out(f"{path}.prepare", prepare)
        self.testcase.stub_out(f"{path}.cast", _logged_call(cls.call))
        self.testcase.stub_out(f"{path}._cohort_lab_logged", True)


def _logged_call(call: Callable) -> Callable:
    def cast(client, ctxt, method, **kwargs):
        try:
            call(client, ctxt, method, **kwargs)
        except Exception:
            LOG.exception("RPC cast %s failed", method)

    return cast


def _pooled_sqlite(create_engine: Callable) -> Callable:
    """`create_engine` that pools connections to SQLite files instead of opening one per query."""

    def create(url: object, **kwargs: object) -> object:
        if kwargs.get("poolclass") is pool.NullPool and str(url).startswith("sqlite:///"):
            kwargs["poolclass"] = pool.QueuePool
            kwargs["connect_args"] = {**(kwargs.get("connect_args") or {}), "check_same_thread": False}
        return create_engine(url, **kwargs)

    return create


def _kept_sqlite(directory: Path, files: dict[str, str]) -> Callable[[str], tuple[str, str]]:
    """The harness's `_use_file_backed_sqlite_with_wal`, with a lasting file per database name."""

    def database(name: str) -> tuple[str, str]:
        path = directory / f"{files.get(name, name.replace('/', '_').replace(':', '_'))}.sqlite"
        if not path.exists():
            connection = sqlite3.connect(path)
            try:
                connection.execute("PRAGMA journal_mode=WAL")
            finally:
                connection.close()
        return f"sqlite:///{path}", str(path)

    return database


def _keep_file(fixture: object) -> None:
    """In place of oslo.db's ad-hoc fixture's `_cleanup`, which would delete the database file."""


def _schema_once(cache_schema: Callable) -> Callable:
    """`CellDatabases._cache_schema`, skipped for a cell database that has its schema already."""

    def apply(self, connection_str: str) -> None:
        engine = self._ctxt_mgrs[connection_str].writer.get_engine()
        if not sqlalchemy.inspect(engine).has_table("instances"):
            cache_schema(self, connection_str)

    return apply


def _register_authtoken_options() -> None:
    """Register `[keystone_authtoken]` and the password plugin's options, so the lab can set them.

    keystonemiddleware registers the plugin's options only when its filter loads the plugin, which is
    after the lab must have set them; registering the same options again is harmless.
    """
    from keystoneauth1 import loading
    from keystonemiddleware.auth_token import _opts  # noqa: F401 - registers the group's own options
    from oslo_config import cfg

    loading.register_auth_conf_options(cfg.CONF, AUTHTOKEN_GROUP)
    options = loading.get_auth_plugin_conf_options(loading.get_plugin_loader("password"))
    cfg.CONF.register_opts(options, group=AUTHTOKEN_GROUP)


def authtoken_options(auth_url: str, password: str) -> dict[str, str]:
    """`[keystone_authtoken]` for the lab: Keystone at `auth_url` (its /v3), Nova's service user."""
    return {
        "www_authenticate_uri": auth_url,
        "interface": "public",  # the lab's catalog lists public endpoints only
        "auth_url": auth_url,
        "auth_type": "password",
        "username": SERVICE_USER,
        "password": password,
        "project_name": SERVICE_PROJECT,
        "user_domain_name": "Default",
        "project_domain_name": "Default",
        "service_token_roles_required": "true",
    }


def start_stack(
    hosts: int = 3,
    keystone: dict[str, str] | None = None,
    databases: Path | None = None,
    max_limit: int = DEFAULT_MAX_LIMIT,
) -> _LabStack:
    """Start the whole Nova stack in this process and return it; `keystone`: `authtoken_options()`;
    `databases`: the directory where Nova's and placement's databases are kept (None: temporary);
    `max_limit`: Nova's `[api] max_limit`, the most items one page of a listing holds."""
    if not os.environ.get("OS_NOVA_DISABLE_EVENTLET_PATCHING"):
        raise RuntimeError("start the lab through `python -m cohort_lab` (it selects native threading)")
    stack = _LabStack("lab")
    stack.hosts = tuple(f"host{n}" for n in range(1, hosts + 1))
    stack.keystone = dict(keystone or {})
    stack.databases = databases
    stack.max_limit = max_limit
    stack.setUp()
    return stack
