"""Group commit: the daemon's worked entries stored many to a transaction, off the loop.

Each entry's work ends in ``await committer.store(outcome)``. Outcomes that arrive together
are committed together: the first waits ``linger`` for company (or until ``batch_size``
are waiting), then the batch goes to the store in a thread, so the transaction, the file
writes and their fsyncs never hold up the event loop; what arrives meanwhile forms the next
batch. One batch is written at a time (SQLite has one writer anyway), and each caller gets
its own result, or the StoreError that kept its article out.

A crash before a commit loses no data: the entries stay pending and the next poll works them
again (``Store.commit``'s files land before its rows; orphans are removed at start-up).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from watcher.clock import Clock
from watcher.store import Store
from watcher.store.ready import Outcome
from watcher.types import Filed

DEFAULT_BATCH_SIZE = 200
DEFAULT_LINGER = 0.1  # seconds the first outcome of a batch waits for others


@dataclass
class _Waiting:
    outcome: Outcome
    result: asyncio.Future[Filed | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())


class Committer:
    def __init__(self, store: Store, clock: Clock, *, batch_size: int = DEFAULT_BATCH_SIZE,
                 linger: float = DEFAULT_LINGER) -> None:
        self._store = store
        self.clock = clock
        self.batch_size = batch_size
        self.linger = linger
        self._waiting: list[_Waiting] = []
        self._full = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self.batches = 0  # transactions committed (for logs, tests and benchmarks)

    async def store(self, outcome: Outcome) -> Filed | None:
        """``outcome`` stored (in a batch); its number and matched rules, or None for a
        duplicate or a failed attempt. Raises the batch's StoreError."""
        waiting = _Waiting(outcome)
        self._waiting.append(waiting)
        if len(self._waiting) >= self.batch_size:
            self._full.set()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="watcher-committer")
        return await asyncio.shield(waiting.result)

    async def _write(self) -> None:
        while self._waiting:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), self.linger)
            batch = self._waiting[:self.batch_size]
            del self._waiting[:len(batch)]
            self._full.clear()
            if len(self._waiting) >= self.batch_size:
                self._full.set()
            try:
                results = await asyncio.to_thread(
                    self._store.commit, [w.outcome for w in batch], self.clock())
            except Exception as exc:  # a StoreError, or a bug: each caller hears of it
                for waiting in batch:
                    if not waiting.result.done():
                        waiting.result.set_exception(exc)
                continue
            self.batches += 1
            for waiting, result in zip(batch, results, strict=True):
                if waiting.result.done():
                    continue
                if isinstance(result, Exception):
                    waiting.result.set_exception(result)
                else:
                    waiting.result.set_result(result)

    async def aclose(self) -> None:
        """Wait for what is queued to be stored."""
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
