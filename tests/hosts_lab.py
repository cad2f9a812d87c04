"""A lab whose compute hosts the tests may change (`cohort lab-host`), apart from the session's `lab`
(whose three hosts other tests count on): tests/test_lab_hosts.py and tests/test_lab_mend.py each
start one for their module."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command

import cohort_lab
from cohort.cloud.openstack import OpenStackDriver

START_TIMEOUT = 240.0  # a shared, loaded machine


class Running:
    """The hosts lab, which a test may restart."""

    def __init__(self, state_dir):
        self.state_dir = state_dir
        self.lab = cohort_lab.start_lab(state_dir, timeout=START_TIMEOUT)

    def restart(self) -> None:
        self.lab.stop()
        self.lab = cohort_lab.start_lab(self.state_dir, timeout=START_TIMEOUT)

    @property
    def admin(self) -> OpenStackDriver:
        return OpenStackDriver(self.lab.admin())

    def enabled_hosts(self) -> list[str]:
        return sorted(host.name for host in self.admin.list_compute_hosts() if host.available)


def lab_host(running: Running, *args: str) -> str:
    out = StringIO()
    call_command("lab-host", *args, "--lab-dir", str(running.state_dir), stdout=out)
    return out.getvalue().strip()
