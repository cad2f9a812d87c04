"""A cloud driver for the worker-death test: the in-memory Nova, with a create that never ends."""

import time

from cohort.cloud.memory import MemoryDriver


class HangingCreateDriver(MemoryDriver):
    def create_server_group(self, **kwargs):
        time.sleep(3600)  # the test kills the worker long before this returns
        return super().create_server_group(**kwargs)
