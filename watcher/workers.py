"""A small process pool for asyncio with a time limit per task that kills and replaces the
worker that overran it.

``concurrent.futures.ProcessPoolExecutor`` cannot stop one running task: a page that sends
lxml into a pathological case, or a feed that hits feedparser's quadratic regexes, would
hold a worker forever. Here each worker is one process with one pipe that runs one task at a
time, so a worker past its deadline is simply SIGKILLed and a fresh one started; the other
tasks carry on.

    async with WorkerPool(2) as pool:
        page = await pool.run(extract_page, html, url, content_type, timeout=20)

Errors, all WatcherError subclasses except what the task itself raised:

    TaskTimeoutError     the task overran ``timeout``; its worker was killed (also a
                         builtin TimeoutError, so ``except TimeoutError`` catches it)
    WorkerCrashedError   the worker process died during the task (segfault, OOM kill, exit)
    TaskError            the task's result or exception could not be sent back (unpicklable)
    PoolClosedError      ``run`` after ``close``, or the pool closed under a running task

An exception raised by the task is re-raised as is in the caller (with the worker's
traceback as a note); the worker survives it.

Workers start with the 'forkserver' method: the daemon runs threads (asyncio's executor,
the resolver), and forking a threaded process can copy a held lock into the child. The
fork server itself is started once, single-threaded, and ``preload`` modules are imported
there, so each new worker is a cheap fork with trafilatura and the language model already
loaded (measured figures in docs/extraction.md).

A value every task needs but that is costly to build (the compiled rules) is shared rather
than passed with each task: ``await pool.share("rules", source, build)`` pickles ``source``
once and sends it to every worker, idle ones at once and busy ones before their next task;
each worker builds it (``build(source)``) as it arrives, so an idle worker compiles new
rules while nothing waits for it, and tasks read the result with ``shared("rules")``
(``watcher/worker_main.py``: what runs inside a worker).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import multiprocessing.forkserver
import os
import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess
from multiprocessing.reduction import ForkingPickler
from types import TracebackType
from typing import Any, Literal, TypeVar

from watcher.errors import WatcherError
from watcher.worker_main import Share, TaskError, serve_tasks

__all__ = ["PoolClosedError", "TaskError", "TaskTimeoutError", "WorkerCrashedError", "WorkerPool",
           "start_fork_server"]

T = TypeVar("T")

# Bounds what a slow leak in lxml/trafilatura can grow to; a new worker rebuilds every shared
# value (a rule set's compile), so retiring them too often costs more than it saves.
DEFAULT_MAX_TASKS_PER_CHILD = 2000
# Modules, not packages: ``watcher.extract`` loads its parts on first use, so preloading
# the package alone would leave every new worker to import trafilatura itself (and
# ``watcher.feeds`` imports feedparser only where it parses).
DEFAULT_PRELOAD = ("watcher.extract.page", "watcher.extract._langmodel", "watcher.feeds",
                   "feedparser", "watcher.entrywork")
# A task bigger than a pipe's buffer is written from a thread: the write blocks until the
# worker has read the rest, which on a busy machine is a wait the event loop must not make.
_PIPE_BUFFER = 64 * 1024
_CLOSE_GRACE = 1.0  # seconds an idle worker gets to exit on its own at close()


class TaskTimeoutError(WatcherError, TimeoutError):
    """A task ran past its time limit; its worker process was killed and replaced."""


class WorkerCrashedError(WatcherError):
    """The worker process died while running a task."""


class PoolClosedError(WatcherError):
    """The pool is closed."""


@dataclass(eq=False)  # mutable bookkeeping, compared and hashed by identity
class _Worker:
    process: BaseProcess
    conn: Connection
    tasks: int = 0
    waiting: asyncio.Future[None] | None = None  # set while a task runs (see close())
    shared: dict[str, int] = field(default_factory=dict)  # key -> version this worker has

    def kill(self) -> None:
        if self.waiting is not None and not self.waiting.done():
            # Unregister before closing: a closed fd never wakes its reader, and its number
            # may be reused at once by the next worker's pipe.
            self.waiting.get_loop().remove_reader(self.conn.fileno())
            self.waiting.set_result(None)
        with contextlib.suppress(OSError):
            self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join()


def start_fork_server(preload: Sequence[str] = DEFAULT_PRELOAD) -> None:
    """Start this process's fork server now, so that it imports ``preload`` while the
    caller goes on (``watcher run`` checks its rules meanwhile); a pool started later
    forks its workers from it. The server exits with this process."""
    multiprocessing.get_context("forkserver").set_forkserver_preload(list(preload))
    multiprocessing.forkserver.ensure_running()


class WorkerPool:
    """At most ``workers`` tasks at once, each in its own process, each under a time limit.

    ``workers`` None or 0 means one per CPU core. A worker is retired after
    ``max_tasks_per_child`` tasks (None: never). Workers start on demand; ``start()`` (or
    ``async with``) starts them all ahead of the first task.
    """

    def __init__(self, workers: int | None = None, *,
                 max_tasks_per_child: int | None = DEFAULT_MAX_TASKS_PER_CHILD,
                 preload: Sequence[str] = DEFAULT_PRELOAD,
                 start_method: Literal["forkserver", "spawn"] = "forkserver") -> None:
        self.size = workers or os.cpu_count() or 1
        if self.size < 1:
            raise ValueError("workers must be at least 1")
        if max_tasks_per_child is not None and max_tasks_per_child < 1:
            raise ValueError("max_tasks_per_child must be at least 1 or None")
        self.max_tasks_per_child = max_tasks_per_child
        self._context: ForkServerContext | SpawnContext
        if start_method == "forkserver":
            self._context = multiprocessing.get_context("forkserver")
            # Takes effect when this process's fork server starts (the first pool to spawn).
            self._context.set_forkserver_preload(list(preload))
        else:
            self._context = multiprocessing.get_context("spawn")
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._slots: asyncio.Semaphore | None = None
        self._closed = False
        self._shares: dict[str, tuple[int, bytes]] = {}  # key -> (version, pickled Share)
        self._sources: dict[str, Any] = {}  # key -> the value last shared
        self.replaced = 0  # workers killed after a timeout or crash (for logs and tests)

    # -- lifecycle -------------------------------------------------------------------------

    def _spawn(self) -> _Worker:
        parent, child = self._context.Pipe(duplex=True)
        process = self._context.Process(target=serve_tasks, args=(child,), daemon=True,
                                        name="watcher-worker")
        process.start()
        child.close()  # the child has its copy; ours would keep EOF from ever arriving
        worker = _Worker(process, parent)
        self._all.add(worker)
        return worker

    async def start(self) -> WorkerPool:
        """Start every worker now rather than on first use (the fork server's first start
        imports the preload modules: seconds, better spent before the first deadline)."""
        self._check_open()
        missing = self.size - len(self._all)
        for _ in range(max(0, missing)):
            worker = await asyncio.to_thread(self._spawn)
            await asyncio.to_thread(self._bring_up_to_date, [worker])
            if worker in self._all:
                self._idle.append(worker)
        return self

    def _discard(self, worker: _Worker) -> None:
        self._all.discard(worker)
        worker.kill()

    def close(self) -> None:
        """Stop every worker: idle ones are asked to exit, busy ones are killed (their
        ``run`` raises PoolClosedError). Safe to call twice. Call it from the event loop's
        thread (or when no task runs): it wakes the tasks waiting on killed workers."""
        self._closed = True
        idle, self._idle = self._idle, []
        for worker in idle:
            with contextlib.suppress(OSError):
                worker.conn.send(None)
        for worker in idle:
            worker.process.join(_CLOSE_GRACE)
        for worker in list(self._all):
            self._discard(worker)

    async def aclose(self) -> None:
        self.close()

    async def __aenter__(self) -> WorkerPool:
        return await self.start()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    def _check_open(self) -> None:
        if self._closed:
            raise PoolClosedError("worker pool is closed")

    # -- running tasks ---------------------------------------------------------------------

    async def run(self, fn: Callable[..., T], *args: Any, timeout: float | None = None) -> T:
        """``fn(*args)`` in a worker process; its result, or its exception re-raised.

        ``fn`` and ``args`` must be picklable (a module-level function). ``timeout`` counts
        from the moment a worker takes the task, not the wait for a free worker.
        """
        self._check_open()
        try:
            payload = bytes(ForkingPickler.dumps((fn, args)))
        except (pickle.PicklingError, TypeError, AttributeError) as err:
            raise TaskError(f"task not picklable: {err}") from err
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.size)
        async with self._slots:
            self._check_open()
            worker = await self._take()
            try:
                reply = await self._call(worker, payload, getattr(fn, "__name__", "task"),
                                         timeout)
            except BaseException:
                # Timeout, crash, cancellation: the worker's state is unknown; replace it.
                if worker in self._all:
                    self.replaced += 1
                    self._discard(worker)
                raise
            self._give_back(worker)
        if reply[0] == "ok":
            result: T = reply[1]
            return result
        exc: BaseException = reply[1]
        if reply[2]:
            exc.add_note(f"in worker process:\n{reply[2]}")
        raise exc

    async def share(self, key: str, value: Any,
                    build: Callable[[Any], Any] | None = None) -> None:
        """Make ``build(value)`` (or ``value``) what ``shared(key)`` returns in every worker
        from now on: sent now to the idle workers, which build it while idle, and to each
        busy or new worker before its next task. ``build`` and ``value`` must pickle."""
        self._check_open()
        try:
            payload = bytes(ForkingPickler.dumps(Share(key, build, value)))
        except (pickle.PicklingError, TypeError, AttributeError) as err:
            raise TaskError(f"shared value {key!r} not picklable: {err}") from err
        version = self._shares.get(key, (0, b""))[0] + 1
        self._shares[key] = (version, payload)
        self._sources[key] = value
        idle, self._idle = self._idle, []
        try:
            # A thread: a large payload fills the pipe while a worker still builds the last
            # one, and the event loop must not wait on that.
            await asyncio.to_thread(self._bring_up_to_date, idle)
        finally:
            self._idle.extend(w for w in idle if w in self._all)

    def sharing(self, key: str) -> Any:
        """The value last shared under ``key`` (before any build), or None."""
        return self._sources.get(key)

    def _bring_up_to_date(self, workers: Sequence[_Worker]) -> None:
        for worker in workers:
            try:
                for key, (version, payload) in list(self._shares.items()):
                    if worker.shared.get(key) != version:
                        worker.conn.send_bytes(payload)
                        worker.shared[key] = version
            except OSError:
                self._discard(worker)  # gone; _take starts another

    def _outdated(self, worker: _Worker) -> bool:
        return any(worker.shared.get(key) != version
                   for key, (version, _) in self._shares.items())

    async def _take(self) -> _Worker:
        while True:
            while self._idle:
                worker = self._idle.pop()
                if worker.process.is_alive():
                    break
                self._discard(worker)  # died while idle (OOM killer, someone's kill -9)
            else:
                worker = await asyncio.to_thread(self._spawn)
            if self._outdated(worker):
                await asyncio.to_thread(self._bring_up_to_date, [worker])
            if worker in self._all:
                return worker

    def _give_back(self, worker: _Worker) -> None:
        worker.tasks += 1
        limit = self.max_tasks_per_child
        if self._closed or (limit is not None and worker.tasks >= limit):
            with contextlib.suppress(OSError):
                worker.conn.send(None)
            self._all.discard(worker)
            worker.process.join(_CLOSE_GRACE)
            worker.kill()
        else:
            self._idle.append(worker)

    async def _call(self, worker: _Worker, payload: bytes, name: str,
                    timeout: float | None) -> tuple[Any, ...]:
        loop = asyncio.get_running_loop()
        readable: asyncio.Future[None] = loop.create_future()

        def on_readable() -> None:
            if not readable.done():
                readable.set_result(None)

        try:
            if len(payload) > _PIPE_BUFFER:
                await asyncio.to_thread(worker.conn.send_bytes, payload)
            else:
                worker.conn.send_bytes(payload)
        except OSError as exc:
            raise WorkerCrashedError(f"worker process gone before the task: {exc}") from exc
        fd = worker.conn.fileno()
        loop.add_reader(fd, on_readable)
        worker.waiting = readable
        try:
            await asyncio.wait_for(readable, timeout)
        except TimeoutError:
            raise TaskTimeoutError(
                f"task {name} ran past {timeout}s; worker killed"
            ) from None
        finally:
            worker.waiting = None
            if not worker.conn.closed:
                loop.remove_reader(fd)
        try:
            reply: tuple[Any, ...] = worker.conn.recv()
        except (EOFError, OSError):
            if self._closed:
                raise PoolClosedError("worker pool closed during the task") from None
            worker.process.join(_CLOSE_GRACE)
            raise WorkerCrashedError(
                f"worker process died during {name} "
                f"(exit code {worker.process.exitcode})") from None
        except Exception as exc:  # the reply arrived but cannot be unpickled here
            return ("error", TaskError(f"task result not readable: {exc!r}"), "")
        return reply
