"""Per-host politeness: at most K requests at once and a minimum gap between request starts.

One ``HostLimiter`` is shared by feed polls and article fetches, so a site that hosts both
its feed and its articles sees one well-behaved client, not two.

    limiter = HostLimiter(per_host_concurrency=2, min_gap_seconds=0.5)
    async with limiter.slot("www.example.com"):
        ...  # one request, body included

The gap is between the STARTS of requests (a slow response does not delay the next start
more than the concurrency limit already does). Start times are reserved in order, so
concurrent waiters are spaced out instead of all waking together after one sleep.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from watcher.netguard import normalise_host

# Hosts not seen for a while are forgotten so a daemon running for months, meeting
# thousands of article hosts, keeps a small table. Checked when the table grows past this.
_SWEEP_ABOVE = 512


@dataclass
class _Host:
    semaphore: asyncio.Semaphore
    next_start: float = float("-inf")  # the next waiter's turn (monotonic seconds)
    last_start: float = float("-inf")  # when the latest request actually started
    users: int = 0  # holders plus waiters; a host in use is never forgotten


class HostLimiter:
    def __init__(self, per_host_concurrency: int, min_gap_seconds: float, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if per_host_concurrency < 1:
            raise ValueError("per_host_concurrency must be at least 1")
        if min_gap_seconds < 0:
            raise ValueError("min_gap_seconds must not be negative")
        self.per_host_concurrency = per_host_concurrency
        self.min_gap_seconds = min_gap_seconds
        self._clock = clock
        self._hosts: dict[str, _Host] = {}

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """Wait for a free slot on ``host`` and its turn after the gap; hold it inside."""
        key = normalise_host(host)
        state = self._hosts.get(key)
        if state is None:
            if len(self._hosts) >= _SWEEP_ABOVE:
                self._sweep()
            state = self._hosts[key] = _Host(asyncio.Semaphore(self.per_host_concurrency))
        state.users += 1
        try:
            async with state.semaphore:
                gap = self.min_gap_seconds
                # Reserve a turn without awaiting in between: the event loop runs one task at
                # a time, so two waiters never reserve the same instant.
                turn = max(self._clock(), state.next_start)
                state.next_start = turn + gap
                # A busy loop may wake a waiter after its turn; the gap is kept from when
                # the previous request really started, so the next one waits that much more.
                while (wait := max(turn, state.last_start + gap) - self._clock()) > 0:
                    await asyncio.sleep(wait)
                state.last_start = self._clock()
                yield
        finally:
            state.users -= 1

    def _sweep(self) -> None:
        now = self._clock()
        idle = [key for key, state in self._hosts.items()
                if state.users == 0 and state.next_start <= now]
        for key in idle:
            del self._hosts[key]

    def __len__(self) -> int:
        """How many hosts the limiter currently remembers (for tests and metrics)."""
        return len(self._hosts)
