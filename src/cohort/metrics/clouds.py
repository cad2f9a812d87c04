"""A cloud driver that counts and times each call by operation and outcome (`ok`, or the name of the
`CloudError` it raised, or `error` for anything else). `cohort.openstack.clouds.cloud_for` wraps
every driver it makes in one, so the cloud package itself stays free of Django and of metrics."""

from __future__ import annotations

import time

from cohort.cloud import CloudDriver, CloudError
from cohort.metrics import instruments


class MeasuredDriver:
    def __init__(self, driver: CloudDriver):
        self.driver = driver

    def _call(self, operation: str, *args, **kwargs):
        started = time.perf_counter()
        outcome = "ok"
        try:
            return getattr(self.driver, operation)(*args, **kwargs)
        except CloudError as error:
            outcome = type(error).__name__
            raise
        except BaseException:
            outcome = "error"
            raise
        finally:
            instruments.cloud_calls.labels(operation, outcome).inc()
            instruments.cloud_call_duration.labels(operation).observe(time.perf_counter() - started)

    def create_server_group(self, *args, **kwargs):
        return self._call("create_server_group", *args, **kwargs)

    def get_server_group(self, *args, **kwargs):
        return self._call("get_server_group", *args, **kwargs)

    def list_server_groups(self, *args, **kwargs):
        return self._call("list_server_groups", *args, **kwargs)

    def delete_server_group(self, *args, **kwargs):
        return self._call("delete_server_group", *args, **kwargs)

    def list_servers(self, *args, **kwargs):
        return self._call("list_servers", *args, **kwargs)

    def list_compute_hosts(self, *args, **kwargs):
        return self._call("list_compute_hosts", *args, **kwargs)

    def get_server(self, *args, **kwargs):
        return self._call("get_server", *args, **kwargs)

    def live_migrate_server(self, *args, **kwargs):
        return self._call("live_migrate_server", *args, **kwargs)

    def migrate_server(self, *args, **kwargs):
        return self._call("migrate_server", *args, **kwargs)

    def confirm_server_migration(self, *args, **kwargs):
        return self._call("confirm_server_migration", *args, **kwargs)

    def list_server_migrations(self, *args, **kwargs):
        return self._call("list_server_migrations", *args, **kwargs)

    def move_failure(self, *args, **kwargs):
        return self._call("move_failure", *args, **kwargs)

    def get_quotas(self, *args, **kwargs):
        return self._call("get_quotas", *args, **kwargs)

    def set_quotas(self, *args, **kwargs):
        return self._call("set_quotas", *args, **kwargs)

    def __getattr__(self, name: str):  # anything else a driver offers, unmeasured
        return getattr(self.driver, name)
