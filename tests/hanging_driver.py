"""A cloud driver for the time-limit test: the in-memory Nova, with a create that never returns."""

import time

from cohort.cloud.memory import MemoryDriver


class HangingCreateDriver(MemoryDriver):
    def create_server_group(self, **kwargs):
        time.sleep(3600)  # only a task time limit gets the worker out of here
        return super().create_server_group(**kwargs)
