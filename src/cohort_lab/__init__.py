"""The lab: a real Nova on this machine, for tests, demos and the embedded default.

`start_lab()` runs Keystone 30 and Nova 34 (API, conductor, scheduler, placement, fake Glance and
Neutron, three fake compute hosts) in separate processes serving the identity and compute APIs on
127.0.0.1, and returns a `Lab` (its Keystone's and Nova's databases are kept in the state directory,
so a second start there finds the projects, users, groups and servers of the first; `reset=True`
starts empty): `auth_url` is its Keystone's /v3, whose catalog lists the compute
endpoint; `lab.tenant(name)` makes a Keystone project and user (as an operator would) and returns
the `CloudAccess` (Keystone v3 password) the driver logs in with; `lab.admin()` is the lab's admin.
`boot_server`, `delete_server` and `set_quota` act on the lab through Nova's public API as a tenant
(or its admin) would.

This package needs the `lab` extra (`pip install -e '.[lab]'`) only in the lab process itself:
importing it, starting a lab and using the client functions need nothing beyond Cohort's own
dependencies, so `nova_installed()` can decide whether a lab can be had at all.
"""

from __future__ import annotations

import importlib.util

from cohort_lab.client import (
    ADMIN_USER,
    FLAVOR_ID,
    IMAGE_ID,
    REGION,
    add_compute_endpoint,
    admin_access,
    boot_server,
    connect,
    create_application_credential,
    create_tenant,
    delete_application_credential,
    delete_endpoint,
    delete_server,
    set_host_enabled,
    set_quota,
    stop_server,
)
from cohort_lab.process import Lab, LabError, has_state, read_stamp, reset_state, start_lab, write_stamp

__all__ = [
    "ADMIN_USER",
    "FLAVOR_ID",
    "IMAGE_ID",
    "REGION",
    "Lab",
    "LabError",
    "boot_server",
    "connect",
    "delete_server",
    "add_compute_endpoint",
    "admin_access",
    "create_application_credential",
    "create_tenant",
    "delete_application_credential",
    "delete_endpoint",
    "has_state",
    "read_stamp",
    "reset_state",
    "write_stamp",
    "nova_installed",
    "set_host_enabled",
    "set_quota",
    "start_lab",
    "stop_server",
]


def nova_installed() -> bool:
    """Whether the `lab` extra (Nova, its test harness and Keystone) is installed."""
    return all(importlib.util.find_spec(name) is not None for name in ("nova", "wsgi_intercept", "keystone"))
