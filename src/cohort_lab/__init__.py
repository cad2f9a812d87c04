"""The lab: a real Nova on this machine, for tests, demos and the embedded default.

`start_lab()` runs Nova 34 (API, conductor, scheduler, placement, fake Glance and Neutron, three
fake compute hosts) in a separate process serving the compute API on 127.0.0.1, and returns a `Lab`
whose `endpoint` a `CloudAccess` can use with `auth_type="admin_token"` and a token `user:project`;
every project named in a token is a Nova project of its own. `boot_server`, `delete_server` and
`set_quota` act on the lab through Nova's public API as a tenant (or its admin) would.

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
    TENANT_USER,
    boot_server,
    connect,
    delete_server,
    lab_access,
    lab_token,
    set_quota,
)
from cohort_lab.process import Lab, LabError, start_lab

__all__ = [
    "ADMIN_USER",
    "FLAVOR_ID",
    "IMAGE_ID",
    "TENANT_USER",
    "Lab",
    "LabError",
    "boot_server",
    "connect",
    "delete_server",
    "lab_access",
    "lab_token",
    "nova_installed",
    "set_quota",
    "start_lab",
]


def nova_installed() -> bool:
    """Whether the `lab` extra (Nova and its test harness) is installed."""
    return importlib.util.find_spec("nova") is not None and importlib.util.find_spec("wsgi_intercept") is not None
