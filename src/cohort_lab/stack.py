"""The Nova stack of the lab: Nova's own functional-test harness, started as a program.

Nova ships its integrated test base in the wheel. Subclassing it and calling `setUp()` outside a test
runner brings up, in this one process, the API, conductor, scheduler, placement, fake Glance and
Neutron and several fake compute hosts, wired over the in-memory RPC transport with casts turned into
calls, so every boot finishes inside its API request. Changed from the harness's defaults: the API is
Nova's real paste pipeline, whose `authtoken` filter (keystonemiddleware) validates every token
against the lab's Keystone as Nova's service user, and whose context filter takes the user, project
and roles from the validated token (the harness would stub both and trust request headers); the compute
hosts (three by default, host1..hostN, with `fake.FakeDriver`'s practically unlimited capacity, so a
server fails to schedule only because of its group's policy), the paste config (the one installed with
nova), and the quotas: unlimited, so a project can hold thousands of groups (an admin can still set a
per-project quota through `os-quota-sets`, as on a real cloud), the compute hosts' late check of a
group's policy (off, so that an admin's forced host can break a policy), and without the post-create recheck,
which only guards against concurrent creates (the lab serves one request at a time) and costs a third
of every create. One more change is for speed alone: oslo.db gives file-backed SQLite a NullPool, so
every query opened a new connection; the lab pools them, as SQLAlchemy does by default, which makes
creates and boots a third to a half faster.

Import this module only in the lab process, after `cohort_lab.__main__` chose native threading:
importing nova's test package decides eventlet monkey patching for the whole process.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

import fixtures
import sqlalchemy
from nova import monkey_patch
from sqlalchemy import pool

monkey_patch.patch()  # before anything imports eventlet: honours OS_NOVA_DISABLE_EVENTLET_PATCHING

from nova.tests.fixtures import glance as glance_fixture  # noqa: E402
from nova.tests.functional import integrated_helpers  # noqa: E402

LOG = logging.getLogger("cohort_lab")

IMAGE_ID = glance_fixture.GlanceFixture.image1["id"]
AUTHTOKEN_GROUP = "keystone_authtoken"
SERVICE_USER = "nova"  # Nova's own Keystone user, which validates the tokens of its callers
SERVICE_PROJECT = "service"
UNLIMITED_QUOTAS = ("instances", "cores", "ram", "server_groups", "server_group_members")


class _LabStack(integrated_helpers._IntegratedTestBase):
    """The harness with three compute hosts and lab quotas; `setUp()` starts it, `stop()` ends it."""

    STUB_KEYSTONE = False  # the real authtoken and keystonecontext filters, against the lab's Keystone
    hosts: tuple[str, ...] = ("host1", "host2", "host3")
    keystone: dict[str, str] = {}  # [keystone_authtoken] options: where Keystone is, Nova's service user

    def lab(self) -> None:
        """The harness needs a test method to name; the lab never runs one."""

    def setUp(self) -> None:
        self.useFixture(fixtures.MonkeyPatch("sqlalchemy.create_engine", _pooled_sqlite(sqlalchemy.create_engine)))
        super().setUp()

    def _setup_services(self) -> None:
        self.flags(api_paste_config=str(Path(sys.prefix) / "etc/nova/api-paste.ini"), group="wsgi")
        self.flags(compute_driver="fake.FakeDriver")
        self.flags(recheck_quota=False, group="quota")
        # No late check of the group's policy on the compute host (many deployments turn it off for
        # cells isolation): the scheduler still enforces the policy at every boot, and the lab boots
        # one at a time, so the race the check guards against never happens; but an admin's forced
        # host (`nova:HOST`) can now break a policy, as an operator's forced move does.
        self.flags(disable_group_policy_check_upcall=True, group="workarounds")
        _register_authtoken_options()
        self.flags(**self.keystone, group=AUTHTOKEN_GROUP)
        for quota in UNLIMITED_QUOTAS:
            self.flags(**{quota: -1}, group="quota")
        super()._setup_services()

    def _setup_compute_service(self):
        for host in self.hosts:
            self._start_compute(host)
        return self.computes[self.hosts[0]]

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


def _pooled_sqlite(create_engine: Callable) -> Callable:
    """`create_engine` that pools connections to SQLite files instead of opening one per query."""

    def create(url: object, **kwargs: object) -> object:
        if kwargs.get("poolclass") is pool.NullPool and str(url).startswith("sqlite:///"):
            kwargs["poolclass"] = pool.QueuePool
            kwargs["connect_args"] = {**(kwargs.get("connect_args") or {}), "check_same_thread": False}
        return create_engine(url, **kwargs)

    return create


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


def start_stack(hosts: int = 3, keystone: dict[str, str] | None = None) -> _LabStack:
    """Start the whole Nova stack in this process and return it; `keystone`: `authtoken_options()`."""
    if not os.environ.get("OS_NOVA_DISABLE_EVENTLET_PATCHING"):
        raise RuntimeError("start the lab through `python -m cohort_lab` (it selects native threading)")
    stack = _LabStack("lab")
    stack.hosts = tuple(f"host{n}" for n in range(1, hosts + 1))
    stack.keystone = dict(keystone or {})
    stack.setUp()
    return stack
