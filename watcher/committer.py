"""Group commit: the daemon's worked entries stored many to a transaction, off the loop.

Each entry's work ends in ``await committer.store(outcome)``. Outcomes that arrive together
are committed together (``batching.Batcher``): the first waits ``linger`` for company (or
until ``batch_size`` are waiting), then the batch goes to the store in a thread, so the
transaction, the file writes and their fsyncs never hold up the event loop; what arrives
meanwhile forms the next batch. One batch is written at a time (SQLite has one writer
anyway), and each caller gets its own result, or the StoreError that kept its article out.

A crash before a commit loses no data: the entries stay pending and the next poll works them
again (``Store.commit``'s files land before its rows; orphans are removed at start-up).
"""

from __future__ import annotations

from collections.abc import Sequence

from watcher.batching import Batcher
from watcher.clock import Clock
from watcher.store import Store
from watcher.store.ready import Outcome
from watcher.types import Filed

DEFAULT_BATCH_SIZE = 200
DEFAULT_LINGER = 0.1  # seconds the first outcome of a batch waits for others


class Committer:
    def __init__(self, store: Store, clock: Clock, *, batch_size: int = DEFAULT_BATCH_SIZE,
                 linger: float = DEFAULT_LINGER) -> None:
        self._store = store
        self.clock = clock
        self._batcher: Batcher[Outcome, Filed | None] = Batcher(
            self._commit, batch_size=batch_size, linger=linger, name="watcher-committer")

    @property
    def batches(self) -> int:
        """Transactions committed (for logs, tests and benchmarks)."""
        return self._batcher.batches

    def _commit(self, outcomes: list[Outcome]) -> Sequence[Filed | BaseException | None]:
        return self._store.commit(outcomes, self.clock())

    async def store(self, outcome: Outcome) -> Filed | None:
        """``outcome`` stored (in a batch); its number and matched rules, or None for a
        duplicate or a failed attempt. Raises the batch's StoreError."""
        return await self._batcher.submit(outcome)

    async def aclose(self) -> None:
        """Wait for what is queued to be stored."""
        await self._batcher.aclose()
