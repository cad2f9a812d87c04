"""The cloud boundary: the driver interface and its implementations.

Nothing in this package imports Django. `cohort.cloud.base` defines what crosses the boundary;
`connect()` builds the driver that the `COHORT_CLOUD_DRIVER` setting names (a dotted path), so the
choice of cloud is configuration, not code.
"""

from cohort.cloud.base import (
    POLICIES,
    QUOTA_MAX,
    BadRequest,
    CloudAccess,
    CloudDriver,
    CloudError,
    ComputeHost,
    Conflict,
    Forbidden,
    NotFound,
    RemoteMigration,
    RemoteServer,
    RemoteServerGroup,
    ServerGroupQuotas,
    Unreachable,
    load_driver,
)

__all__ = [
    "POLICIES",
    "QUOTA_MAX",
    "BadRequest",
    "CloudAccess",
    "CloudDriver",
    "CloudError",
    "ComputeHost",
    "Conflict",
    "Forbidden",
    "NotFound",
    "RemoteMigration",
    "RemoteServer",
    "RemoteServerGroup",
    "ServerGroupQuotas",
    "Unreachable",
    "load_driver",
]
