"""WorkerPool's queue: each worker holds its running task and the next, so it goes on
without waiting for the daemon; a task queued behind one that dies or overruns goes to
another worker; waiting tasks go by priority."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import AsyncIterator

import pytest

from tests.test_workers import add, die, nap, read_shared, sleep_forever
from watcher.workers import TaskTimeoutError, WorkerCrashedError, WorkerPool


def started_at(seconds: float) -> tuple[float, float]:
    """(when it started, when it ended), by the wall clock, after ``seconds`` of work."""
    began = time.time()
    time.sleep(seconds)
    return began, time.time()


@pytest.fixture
async def one_worker() -> AsyncIterator[WorkerPool]:
    async with WorkerPool(1, preload=()) as running:
        yield running


async def test_a_worker_starts_its_next_task_while_the_daemon_is_busy(
        one_worker: WorkerPool) -> None:
    first = asyncio.create_task(one_worker.run(started_at, 0.2, timeout=30))
    second = asyncio.create_task(one_worker.run(started_at, 0.0, timeout=30))
    await asyncio.sleep(0.1)  # both handed over: the first runs, the second waits in line
    time.sleep(2.0)  # the event loop (the daemon) busy elsewhere, reading no reply
    loop_free = time.time()
    (_, first_end), (second_start, _) = await first, await second
    # Before, the worker waited for the loop to read its reply and send the next task.
    assert first_end <= second_start < loop_free


async def test_a_task_behind_one_that_overruns_goes_to_another_worker(
        one_worker: WorkerPool) -> None:
    stuck = asyncio.create_task(one_worker.run(sleep_forever, timeout=0.5))
    await asyncio.sleep(0.1)
    behind = asyncio.create_task(one_worker.run(add, 2, 3, timeout=30))
    with pytest.raises(TaskTimeoutError):
        await stuck
    assert await behind == 5
    assert one_worker.replaced == 1


async def test_a_task_behind_one_that_kills_its_worker_goes_to_another(
        one_worker: WorkerPool) -> None:
    dying = asyncio.create_task(one_worker.run(nap_then_die, 0.3, timeout=30))
    await asyncio.sleep(0.1)
    behind = asyncio.create_task(one_worker.run(add, 4, 5, timeout=30))
    with pytest.raises(WorkerCrashedError, match="nap_then_die"):
        await dying
    assert await behind == 9


def size_of(data: bytes) -> int:
    return len(data)


async def test_a_large_task_being_written_to_a_worker_that_is_killed_goes_elsewhere(
        one_worker: WorkerPool) -> None:
    """Its write waits in a thread for the stuck worker to read; the worker is killed, the
    write fails, the task goes to a new worker, and the old pipe is closed only then."""
    troubles: list[dict[str, object]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, context: troubles.append(context))
    stuck = asyncio.create_task(one_worker.run(sleep_forever, timeout=1.0))
    await asyncio.sleep(0.2)
    [old] = one_worker._all
    big = asyncio.create_task(one_worker.run(size_of, b"x" * 8_000_000, timeout=60))
    with pytest.raises(TaskTimeoutError):
        await stuck
    assert await big == 8_000_000
    assert old.conn.closed and one_worker._all and old not in one_worker._all
    del stuck, big, old
    gc.collect()
    assert troubles == []  # no exception left unretrieved, no callback failed


async def test_a_large_task_is_written_by_the_event_loop_without_a_thread(
        one_worker: WorkerPool) -> None:
    """Larger than the pipe's buffer, behind a busy worker: sent as the pipe makes room."""
    threads = threading.active_count()
    busy = asyncio.create_task(one_worker.run(nap, 0.3, timeout=30))
    await asyncio.sleep(0.1)
    assert await one_worker.run(size_of, b"y" * 3_000_000, timeout=60) == 3_000_000
    assert await busy == 0.3
    assert threading.active_count() == threads


async def test_a_large_write_whose_caller_is_cancelled_is_finished_before_the_next(
        one_worker: WorkerPool) -> None:
    """Half a message in the pipe would make the worker read the next one's bytes as its
    rest: a cancelled caller's write goes on to its end, and the next task comes after."""
    busy = asyncio.create_task(one_worker.run(nap, 0.5, timeout=30))
    await asyncio.sleep(0.1)
    [worker] = one_worker._all
    large = asyncio.create_task(one_worker.run(size_of, b"z" * 6_000_000, timeout=60))
    await asyncio.sleep(0.05)  # its write has begun and waits for the worker to read
    assert worker._last_write is not None and not worker._last_write.done()
    large.cancel()
    with pytest.raises(asyncio.CancelledError):
        await large
    assert await busy == 0.5
    assert await one_worker.run(add, 2, 3, timeout=30) == 5
    assert one_worker.replaced == 0


def nap_then_die(seconds: float) -> None:
    time.sleep(seconds)
    die()


async def test_a_waiting_task_cancelled_leaves_the_running_one_alone(
        one_worker: WorkerPool) -> None:
    running = asyncio.create_task(one_worker.run(nap, 0.5, timeout=30))
    await asyncio.sleep(0.1)
    waiting = asyncio.create_task(one_worker.run(nap, 0.1, timeout=30))
    await asyncio.sleep(0.1)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert await running == 0.5
    assert one_worker.replaced == 0
    assert await one_worker.run(add, 1, 1, timeout=30) == 2


async def test_waiting_tasks_go_by_priority(one_worker: WorkerPool) -> None:
    # One worker holds two tasks; the rest wait for a place in its line.
    held = [asyncio.create_task(one_worker.run(started_at, 0.5, timeout=30))
            for _ in range(2)]
    await asyncio.sleep(0.1)
    low = asyncio.create_task(one_worker.run(started_at, 0.0, timeout=30))
    await asyncio.sleep(0.05)
    high = asyncio.create_task(one_worker.run(started_at, 0.0, timeout=30, priority=1))
    await asyncio.gather(*held)
    (high_start, _), (low_start, _) = await high, await low
    assert high_start < low_start


async def test_a_task_given_after_a_share_sees_it_though_its_worker_was_busy(
        one_worker: WorkerPool) -> None:
    await one_worker.share("note", "old")
    busy = asyncio.create_task(one_worker.run(nap, 0.3, timeout=30))
    await asyncio.sleep(0.1)
    await one_worker.share("note", "new")
    assert await one_worker.run(read_shared, "note", timeout=30) == "new"
    assert await busy == 0.3
