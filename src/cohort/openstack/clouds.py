"""The driver for a tenant: the configured driver class, bound to the tenant's access record.

Every cloud call is bounded: unless the cloud's own options say otherwise, each HTTP request to
Keystone and Nova gives up after `CLOUD_TIMEOUT_SECONDS` (connecting and reading alike), and is
counted and timed (`cohort.metrics.clouds`).
"""

from __future__ import annotations

from dataclasses import replace

from django.conf import settings

from cohort.cloud import CloudAccess, CloudDriver, load_driver
from cohort.metrics.clouds import MeasuredDriver
from cohort.openstack.models import Tenant


def cloud_for(tenant: Tenant) -> CloudDriver:
    return _driver(tenant.cloud_access())


def admin_cloud_for(tenant: Tenant) -> CloudDriver | None:
    """The driver with the cloud's own registered credentials (`Tenant.admin_access`), or None."""
    access = tenant.admin_access()
    return _driver(access) if access is not None else None


def _driver(access: CloudAccess) -> CloudDriver:
    access = replace(access, options={"timeout": settings.CLOUD_TIMEOUT_SECONDS, **access.options})
    return MeasuredDriver(load_driver(settings.CLOUD_DRIVER)(access))
