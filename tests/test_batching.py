"""Batcher: calls that arrive together are done as one, each caller gets its own answer."""

from __future__ import annotations

import asyncio
import threading

import pytest

from watcher.batching import Batcher


class Doubling:
    """Doubles each number in a thread; a negative number is that item's own error, and a
    batch holding 13 fails whole."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.threads: set[str] = set()

    def __call__(self, items: list[int]) -> list[int | BaseException]:
        self.batches.append(items)
        self.threads.add(threading.current_thread().name)
        if 13 in items:
            raise RuntimeError("the whole batch failed")
        return [ValueError(f"negative: {n}") if n < 0 else 2 * n for n in items]


async def test_calls_that_arrive_together_are_one_batch_with_an_answer_each() -> None:
    work = Doubling()
    batcher = Batcher(work, batch_size=10, linger=0.2, name="test-batcher")
    answers = await asyncio.gather(*(batcher.submit(n) for n in (1, 2, 3)))
    assert answers == [2, 4, 6]
    assert work.batches == [[1, 2, 3]] and batcher.batches == 1
    assert threading.current_thread().name not in work.threads  # off the event loop


async def test_an_items_own_error_reaches_its_caller_alone() -> None:
    batcher = Batcher(Doubling(), batch_size=10, linger=0.2, name="test-batcher")
    good, bad = await asyncio.gather(batcher.submit(4), batcher.submit(-1),
                                     return_exceptions=True)
    assert good == 8
    assert isinstance(bad, ValueError) and str(bad) == "negative: -1"


async def test_a_failed_batch_fails_each_of_its_callers_and_the_next_batch_runs() -> None:
    work = Doubling()
    batcher = Batcher(work, batch_size=10, linger=0.2, name="test-batcher")
    failed = await asyncio.gather(batcher.submit(13), batcher.submit(5),
                                  return_exceptions=True)
    assert [str(e) for e in failed] == ["the whole batch failed"] * 2
    assert await batcher.submit(5) == 10
    assert work.batches == [[13, 5], [5]]


async def test_a_full_batch_goes_without_waiting_and_the_rest_forms_the_next() -> None:
    work = Doubling()
    batcher = Batcher(work, batch_size=2, linger=30.0, name="test-batcher")
    answers = await asyncio.wait_for(
        asyncio.gather(*(batcher.submit(n) for n in range(4))), timeout=10)
    assert answers == [0, 2, 4, 6]
    assert work.batches == [[0, 1], [2, 3]]


async def test_a_cancelled_caller_leaves_its_item_in_the_batch() -> None:
    work = Doubling()
    batcher = Batcher(work, batch_size=10, linger=0.2, name="test-batcher")
    leaving = asyncio.create_task(batcher.submit(7))
    staying = asyncio.create_task(batcher.submit(8))
    await asyncio.sleep(0)
    leaving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert await staying == 16
    await batcher.aclose()
    assert work.batches == [[7, 8]]
