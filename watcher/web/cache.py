"""Answers the pages worked out once and reused (docs/web.md, "The cache", says what each
cache holds and why).

``Memo`` is a small LRU with a time to live. The pages' keys carry everything the answer
depends on (the index's change marker, or the very rows a page shows), so an entry is never
wrong while it lives; the time to live only bounds what the keys leave out (a site's
boilerplate learned since). Concurrent requests for one missing key wait for the first
one's answer instead of each working it out: after a poll adds a match, every client asking
for the front page would otherwise fold the same page at once, each slowing the others.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Generic, TypeVar

V = TypeVar("V")


@dataclass
class MemoStats:
    hits: int = 0
    misses: int = 0  # worked out by this request
    waits: int = 0  # another request was working it out: waited for its answer


class Memo(Generic[V]):
    def __init__(self, size: int, seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.seconds = seconds
        self.clock = clock
        self.stats = MemoStats()
        self._entries: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self._pending: dict[Hashable, Future[V]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], V]) -> V:
        """The answer for ``key``, from the cache or from ``compute()`` (called once however
        many requests ask at the same time; its exception reaches all of them)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > self.clock():
                self._entries.move_to_end(key)
                self.stats.hits += 1
                return entry[1]
            pending = self._pending.get(key)
            if pending is None:
                future: Future[V] = Future()
                self._pending[key] = future
                self.stats.misses += 1
            else:
                self.stats.waits += 1
        if pending is not None:
            return pending.result()
        try:
            value = compute()
        except BaseException as exc:
            with self._lock:
                del self._pending[key]
            future.set_exception(exc)
            raise
        with self._lock:
            del self._pending[key]
            self._entries[key] = (self.clock() + self.seconds, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        future.set_result(value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
