"""Group calls: what arrives together is done as one, in a thread, off the event loop.

``await batcher.submit(item)`` queues ``item``; the first item of a batch waits ``linger``
seconds for company (or until ``batch_size`` are waiting), then the batch goes to
``run_batch`` in a thread, and what arrives meanwhile forms the next batch. One batch runs
at a time. ``run_batch`` answers each item in order, with a result or the exception that
is that item's alone; an exception it raises is every item's.

The daemon's two per-article transactions go through one each: the commits of worked
entries (``committer.py``) and the site's memory of its paragraphs (``Pipeline``). A
transaction's commit costs about the same for one article as for many, and so does each
hand-off to a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Waiting(Generic[T, R]):
    item: T
    result: asyncio.Future[R] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())


class Batcher(Generic[T, R]):
    def __init__(self, run_batch: Callable[[list[T]], Sequence[R | BaseException]], *,
                 batch_size: int, linger: float, name: str) -> None:
        self._run_batch = run_batch
        self.batch_size = batch_size
        self.linger = linger
        self._name = name
        self._waiting: list[_Waiting[T, R]] = []
        self._full = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self.batches = 0  # batches run (for logs, tests and benchmarks)

    async def submit(self, item: T) -> R:
        """``run_batch``'s answer for ``item``, once its batch has run; raises the
        exception that is its answer. Cancelling the caller does not take the item out of
        a batch already running."""
        waiting: _Waiting[T, R] = _Waiting(item)
        self._waiting.append(waiting)
        if len(self._waiting) >= self.batch_size:
            self._full.set()
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run(), name=self._name)
        return await asyncio.shield(waiting.result)

    async def _run(self) -> None:
        while self._waiting:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), self.linger)
            batch = self._waiting[:self.batch_size]
            del self._waiting[:len(batch)]
            self._full.clear()
            if len(self._waiting) >= self.batch_size:
                self._full.set()
            try:
                results = await asyncio.to_thread(self._run_batch, [w.item for w in batch])
            except Exception as exc:  # a failure of the whole batch: each caller hears of it
                for waiting in batch:
                    if not waiting.result.done():
                        waiting.result.set_exception(exc)
                continue
            self.batches += 1
            for waiting, result in zip(batch, results, strict=True):
                if waiting.result.done():
                    continue
                if isinstance(result, BaseException):
                    waiting.result.set_exception(result)
                else:
                    waiting.result.set_result(result)

    async def aclose(self) -> None:
        """Wait for what is queued to be done."""
        if self._runner is not None:
            await asyncio.gather(self._runner, return_exceptions=True)
