"""A cloud driver for the per-cloud limit's test: the real OpenStack driver, with each create and
delete slowed down and its start and end written to a file that every worker appends to
(`COHORT_TEST_CALL_LOG`), so the test can count the calls in flight at any moment across processes."""

import os
import time

from cohort.cloud.openstack import OpenStackDriver

SLOW_SECONDS = 0.2  # a slow cloud: calls overlap unless something holds them apart


class CountingDriver(OpenStackDriver):
    def create_server_group(self, **kwargs):
        return self._counted(super().create_server_group, **kwargs)

    def delete_server_group(self, server_group_id):
        return self._counted(super().delete_server_group, server_group_id)

    def _counted(self, call, *args, **kwargs):
        started = time.time()
        try:
            time.sleep(SLOW_SECONDS)
            return call(*args, **kwargs)
        finally:
            line = f"{os.getpid()} {started:.6f} {time.time():.6f}\n"
            with open(os.environ["COHORT_TEST_CALL_LOG"], "a") as log:  # one short append: not interleaved
                log.write(line)


def most_in_flight(log_text: str) -> int:
    """The largest number of calls of the log that ran at one moment."""
    edges = []
    for line in log_text.splitlines():
        _, start, end = line.split()
        edges += [(float(start), 1), (float(end), -1)]
    running = peak = 0
    for _, step in sorted(edges, key=lambda edge: (edge[0], edge[1])):  # an end before a start at one instant
        running += step
        peak = max(peak, running)
    return peak
