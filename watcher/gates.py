"""``PriorityGate``: at most N holders at once, and the next one in chosen by priority.

An asyncio.Semaphore lets waiters in first come, first served. The worker pool needs
better: an entry's work is two tasks (``read_page``, then ``finish_entry``), and in first
come order every page fetched waits ahead of the entries already read, so entries finish
in bursts, their slots free up together and the next pages are fetched all at once
(docs/performance.md, "A tenth round"). Letting the task that completes work in progress
in before the one that starts new work keeps the pipeline flowing.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class PriorityGate:
    """At most ``size`` holders at once. When one leaves, the waiter with the highest
    priority comes in, the longest waiting among equals."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self._free = size
        # (-priority, arrival, future): a heap pops the highest priority, then the oldest.
        # A cancelled waiter's future stays until popped, and is skipped then.
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._arrivals = itertools.count()

    @property
    def waiting(self) -> int:
        return sum(not future.done() for _, _, future in self._waiters)

    @asynccontextmanager
    async def slot(self, priority: int = 0) -> AsyncIterator[None]:
        await self._acquire(priority)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, priority: int) -> None:
        # A free slot means no live waiter: _release hands a slot to a live waiter rather
        # than freeing it, so one arriving now takes it without queueing.
        if self._free > 0:
            self._free -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (-priority, next(self._arrivals), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release()  # handed a slot just as it was cancelled: pass it on
            raise

    def _release(self) -> None:
        while self._waiters:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(None)
                return
        self._free += 1
