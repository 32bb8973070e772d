"""A process-wide cap on the memory that concurrent decodes hold.

Each worker bounds its own image (engine.pixels), but two workers each on a 100 MP file
would still add up. Decodes reserve their cost (known from the header) before decoding and
wait, in arrival order, while the others would take the total over the cap. An image larger
than the whole cap still decodes, alone.
"""

from __future__ import annotations

import threading
from collections import deque
from contextlib import contextmanager
from collections.abc import Iterator

# With the CLI's two workers and the model loaded this keeps a folder of 100 MP bombs under 2 GB.
DEFAULT_DECODE_BUDGET = 1 << 30


class MemoryBudget:
    def __init__(self, limit: int):
        self.limit = max(1, int(limit))
        self._used = 0
        self._waiting: deque[object] = deque()
        self._changed = threading.Condition()

    @property
    def used(self) -> int:
        return self._used

    @contextmanager
    def reserve(self, nbytes: int) -> Iterator[None]:
        amount = min(max(0, int(nbytes)), self.limit)  # larger than the cap: waits until it is alone
        ticket = object()
        with self._changed:
            self._waiting.append(ticket)
            try:
                # First come, first served: a large decode is not starved by a stream of small ones.
                while self._waiting[0] is not ticket or self._used + amount > self.limit:
                    self._changed.wait()
            finally:
                self._waiting.remove(ticket)  # also when interrupted, or those behind would wait forever
                self._changed.notify_all()  # the next in line may fit too
            self._used += amount
        try:
            yield
        finally:
            with self._changed:
                self._used -= amount
                self._changed.notify_all()


# Shared by every scanner in the process (the app's, the bridge's): the cap is on the process.
DECODE_BUDGET = MemoryBudget(DEFAULT_DECODE_BUDGET)
