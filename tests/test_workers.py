"""WorkerPool: results, exceptions, a task that never ends is killed, a task that kills its
process is reported, and the pool keeps serving after both."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import pytest

from watcher.errors import ExtractError, WatcherError
from watcher.worker_main import shared
from watcher.workers import (
    PoolClosedError,
    TaskError,
    TaskTimeoutError,
    WorkerCrashedError,
    WorkerPool,
)

# Tasks run in other processes, so they are module-level functions (picklable by name).


def add(a: int, b: int) -> int:
    return a + b


def pid() -> int:
    return os.getpid()


def sleep_forever() -> None:
    while True:
        time.sleep(1)


def read_shared(key: str) -> object:
    return shared(key)


def read_signed(key: str) -> tuple[str, int]:
    """What ``build_and_sign`` built in this worker."""
    text, pid = cast(tuple[str, int], shared(key))
    return text, pid


def build_and_sign(value: tuple[str, str]) -> tuple[str, int]:
    """Builds ``value`` and leaves a file in the folder ``value[1]`` saying it did."""
    text, folder = value
    with open(os.path.join(folder, f"built-{text}-{os.getpid()}"), "w"):
        pass
    return text.upper(), os.getpid()


def build_badly(value: str) -> str:
    raise ValueError(f"cannot build {value}")


def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def hard_exit() -> None:
    os._exit(3)


def fail() -> None:
    raise ExtractError("no article text found")


class Unpicklable(Exception):
    def __init__(self, a: int, b: int) -> None:  # pickling keeps args=("1 2",) only
        super().__init__(f"{a} {b}")


def fail_unpicklable() -> None:
    raise Unpicklable(1, 2)


def return_lambda() -> object:
    return lambda: None


@pytest.fixture
async def pool() -> AsyncIterator[WorkerPool]:
    # No preload: these tasks need nothing, and an empty fork server starts fastest.
    async with WorkerPool(2, preload=()) as running:
        yield running


async def test_result_and_args(pool: WorkerPool) -> None:
    assert await pool.run(add, 2, 3) == 5
    assert await pool.run(pid) != os.getpid()


async def test_task_exception_is_reraised_and_worker_survives(pool: WorkerPool) -> None:
    before = await pool.run(pid)
    with pytest.raises(ExtractError, match="no article text") as info:
        await pool.run(fail)
    assert any(note.startswith("in worker process:\nTraceback (most recent call last):\n")
               for note in info.value.__notes__)
    assert await pool.run(pid) in {before, *[w.process.pid for w in pool._all]}
    assert pool.replaced == 0


async def test_unpicklable_exception_becomes_task_error(pool: WorkerPool) -> None:
    with pytest.raises(TaskError, match="Unpicklable"):
        await pool.run(fail_unpicklable)
    with pytest.raises(TaskError, match="not picklable"):
        await pool.run(return_lambda)
    with pytest.raises(TaskError, match="not picklable"):
        await pool.run(add, lambda: 1, 2)
    assert await pool.run(add, 1, 1) == 2
    assert pool.replaced == 0


async def test_timeout_kills_the_worker_and_others_carry_on(pool: WorkerPool) -> None:
    started = time.monotonic()
    stuck = asyncio.create_task(pool.run(sleep_forever, timeout=0.5))
    # The other worker keeps serving while one is stuck.
    assert await pool.run(nap, 0.1, timeout=5) == 0.1
    with pytest.raises(TaskTimeoutError) as info:
        await stuck
    assert isinstance(info.value, TimeoutError) and isinstance(info.value, WatcherError)
    assert time.monotonic() - started < 5
    assert pool.replaced == 1
    # The killed worker is replaced: both slots serve again, concurrently.
    results = await asyncio.gather(*(pool.run(nap, 0.2, timeout=5) for _ in range(2)))
    assert results == [0.2, 0.2]
    assert all(w.process.is_alive() for w in pool._all)


async def test_crash_is_reported_and_pool_keeps_serving(pool: WorkerPool) -> None:
    with pytest.raises(WorkerCrashedError, match="exit code -9"):
        await pool.run(die, timeout=10)
    with pytest.raises(WorkerCrashedError, match="exit code 3"):
        await pool.run(hard_exit, timeout=10)
    assert await pool.run(add, 20, 22, timeout=10) == 42
    assert pool.replaced == 2


async def test_worker_killed_while_idle_is_replaced(pool: WorkerPool) -> None:
    for worker in list(pool._all):
        os.kill(worker.process.pid or 0, signal.SIGKILL)
        worker.process.join()
    assert await pool.run(add, 1, 2, timeout=10) == 3


async def test_more_tasks_than_workers_wait_their_turn(pool: WorkerPool) -> None:
    results = await asyncio.gather(*(pool.run(add, i, i, timeout=10) for i in range(8)))
    assert results == [2 * i for i in range(8)]
    assert len(pool._all) <= 2


async def test_cancelled_task_does_not_leave_a_busy_worker(pool: WorkerPool) -> None:
    task = asyncio.create_task(pool.run(sleep_forever))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await pool.run(add, 2, 2, timeout=10) == 4


async def test_max_tasks_per_child_recycles_workers() -> None:
    async with WorkerPool(1, max_tasks_per_child=2, preload=()) as pool:
        pids = [await pool.run(pid, timeout=10) for _ in range(5)]
    assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4]


async def test_closed_pool_refuses_work() -> None:
    pool = WorkerPool(1, preload=())
    assert await pool.run(add, 1, 2, timeout=10) == 3
    workers = list(pool._all)
    pool.close()
    pool.close()
    assert not any(w.process.is_alive() for w in workers)
    with pytest.raises(PoolClosedError):
        await pool.run(add, 1, 2)


async def test_close_under_a_running_task() -> None:
    pool = WorkerPool(1, preload=())
    task = asyncio.create_task(pool.run(sleep_forever))
    await asyncio.sleep(0.5)
    await pool.aclose()
    with pytest.raises(PoolClosedError):
        await task


def test_bad_sizes() -> None:
    with pytest.raises(ValueError):
        WorkerPool(-1)
    with pytest.raises(ValueError):
        WorkerPool(1, max_tasks_per_child=0)
    assert WorkerPool(None).size == (os.cpu_count() or 1)


async def test_shared_values_reach_every_worker_and_are_built_there(tmp_path: Path) -> None:
    async with WorkerPool(2, preload=()) as pool:
        await pool.share("rules", ("first", str(tmp_path)), build_and_sign)
        # Idle workers build as soon as it arrives, before any task asks for it.
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob("built-first-*"))) < 2:
            assert time.monotonic() < deadline, "idle workers did not build the shared value"
            await asyncio.sleep(0.05)
        got = await asyncio.gather(*(pool.run(read_signed, "rules", timeout=30)
                                     for _ in range(2)))
        assert {g[0] for g in got} == {"FIRST"}
        assert len({g[1] for g in got}) == 2  # built in each worker, not shipped built
        await pool.share("rules", ("second", str(tmp_path)), build_and_sign)
        assert (await pool.run(read_signed, "rules", timeout=30))[0] == "SECOND"


async def test_a_new_worker_gets_what_was_shared_before_it() -> None:
    async with WorkerPool(1, max_tasks_per_child=1, preload=()) as pool:
        await pool.share("note", "kept")
        first = await pool.run(pid, timeout=10)
        assert await pool.run(read_shared, "note", timeout=10) == "kept"
        assert await pool.run(pid, timeout=10) != first


async def test_a_failed_build_raises_in_the_tasks_that_need_it() -> None:
    async with WorkerPool(1, preload=()) as pool:
        await pool.share("rules", "bad", build_badly)
        with pytest.raises(ValueError, match="cannot build bad"):
            await pool.run(read_shared, "rules", timeout=10)
        assert await pool.run(add, 1, 1, timeout=10) == 2
        with pytest.raises(KeyError):
            await pool.run(read_shared, "nothing", timeout=10)


HEAVY_MODULES = ("trafilatura", "watcher.extract.page", "watcher.extract._langmodel",
                 "feedparser", "watcher.rules.compiler")


# What only the daemon's own process uses: the index's SQL, its migrations, the HTTP client.
DAEMON_MODULES = ("sqlalchemy", "alembic", "httpx", "watcher.store.index")


def heavy_modules_loaded() -> list[str]:
    return sorted(name for name in HEAVY_MODULES if name in sys.modules)


def daemon_modules_loaded() -> list[str]:
    return sorted(name for name in DAEMON_MODULES if name in sys.modules)
_FRESH_POOL = """
import asyncio
from tests.test_workers import daemon_modules_loaded, heavy_modules_loaded
from watcher.workers import WorkerPool

async def main():
    async with WorkerPool(1) as pool:
        print(",".join(await pool.run(heavy_modules_loaded, timeout=60)))
        print(",".join(await pool.run(daemon_modules_loaded, timeout=60)))

asyncio.run(main())
"""


def test_a_new_worker_finds_the_extraction_stack_already_imported() -> None:
    """The fork server imports what the workers' tasks use, once, so that no worker pays
    for trafilatura's import when its first page arrives. A fresh interpreter: this test
    process's fork server may have started with another pool's preload."""
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", _FRESH_POOL], cwd=root, capture_output=True,
                          text=True, timeout=120, check=True,
                          env={**os.environ, "PYTHONPATH": str(root)})
    heavy, daemons = done.stdout.split("\n")[:2]
    assert heavy.split(",") == sorted(HEAVY_MODULES)
    # Nor does it carry what it never uses: SQLAlchemy alone is 13 MiB in every worker.
    assert daemons == ""
