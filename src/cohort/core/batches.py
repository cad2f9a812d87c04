"""Writing and reading many rows in statements of bounded size.

A tenant may hold tens of thousands of servers. SQLite as built by default allows 32,766 bound
values per statement (Debian builds it with 250,000), PostgreSQL's protocol 65,535 when values are
bound on the server; and a statement naming 20,000 ids is a large one to send, parse and plan. Bulk
writes and `IN` lists go `BATCH` rows at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

BATCH = 1000

T = TypeVar("T")


def chunks(items: Sequence[T], size: int = BATCH) -> Iterator[Sequence[T]]:
    """`items` in consecutive slices of at most `size` (itertools.batched is Python 3.12's)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
