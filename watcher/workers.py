"""A small process pool for asyncio with a time limit per task that kills and replaces the
worker that overran it.

``concurrent.futures.ProcessPoolExecutor`` cannot stop one running task: a page that sends
lxml into a pathological case, or a feed that hits feedparser's quadratic regexes, would
hold a worker forever. Here each worker is one process with one pipe that runs one task at a
time, so a worker past its deadline is simply SIGKILLed and a fresh one started; the other
tasks carry on. Each worker also holds the next task in its pipe, so it never waits for
the daemon between tasks; a task whose worker dies before reaching it goes to another
worker (``watcher/worker_handle.py``). Tasks waiting for a worker go by priority
(``watcher/gates.py``).

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
import os
import pickle
from collections import deque
from collections.abc import Callable, Sequence
from multiprocessing.context import ForkServerContext, SpawnContext
from multiprocessing.reduction import ForkingPickler
from types import TracebackType
from typing import Any, Literal, TypeVar

from watcher.errors import WatcherError
from watcher.gates import PriorityGate
from watcher.worker_handle import DEPTH, NotStarted, Task, WorkerHandle
from watcher.worker_main import Share, TaskError, serve_tasks

__all__ = ["DEFAULT_PRELOAD", "PoolClosedError", "TaskError", "TaskTimeoutError",
           "WorkerCrashedError", "WorkerPool"]

T = TypeVar("T")

# Bounds what a slow leak in lxml/trafilatura can grow to; a new worker rebuilds every shared
# value (a rule set's compile), so retiring them too often costs more than it saves.
DEFAULT_MAX_TASKS_PER_CHILD = 2000
# Modules, not packages: ``watcher.extract`` loads its parts on first use, so preloading
# the package alone would leave every new worker to import trafilatura itself (and
# ``watcher.feeds`` imports feedparser only where it parses).
# The last, ``watcher.forkserver``, compiles the rules when ``watcher run`` asks it to.
DEFAULT_PRELOAD = ("watcher.extract.page", "watcher.extract._langmodel", "watcher.feeds",
                   "feedparser", "watcher.entrywork", "watcher.forkserver")
_CLOSE_GRACE = 1.0  # seconds an idle worker gets to exit on its own at close()
# A task whose workers keep dying before they reach it (a broken fork server) gives up.
_MAX_HANDOVERS = 3


class TaskTimeoutError(WatcherError, TimeoutError):
    """A task ran past its time limit; its worker process was killed and replaced."""


class WorkerCrashedError(WatcherError):
    """The worker process died while running a task."""


class PoolClosedError(WatcherError):
    """The pool is closed."""


class WorkerPool:
    """Tasks in worker processes, ``workers`` of them running at once, each under a time
    limit.

    ``workers`` None or 0 means one per CPU core. A worker is retired after
    ``max_tasks_per_child`` tasks (None: never). Workers start on demand; ``start()`` (or
    ``async with``) starts them all ahead of the first task. Each worker holds the task it
    runs and the next one (``watcher/worker_handle.py``).
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
        self._all: set[WorkerHandle] = set()
        self._spawning = 0
        self._slots: PriorityGate | None = None
        self._room: asyncio.Event | None = None  # set when a worker may take a task
        self._closed = False
        self._shares: dict[str, tuple[int, bytes]] = {}  # key -> (version, pickled Share)
        self._sources: dict[str, Any] = {}  # key -> the value last shared
        self.replaced = 0  # workers killed after a timeout or crash (for logs and tests)

    # -- lifecycle -------------------------------------------------------------------------

    def _spawn(self) -> WorkerHandle:
        parent, child = self._context.Pipe(duplex=True)
        process = self._context.Process(target=serve_tasks, args=(child,), daemon=True,
                                        name="watcher-worker")
        process.start()
        child.close()  # the child has its copy; ours would keep EOF from ever arriving
        return WorkerHandle(process, parent)

    async def _add_worker(self) -> WorkerHandle:
        self._spawning += 1
        try:
            worker = await asyncio.to_thread(self._spawn)
        finally:
            self._spawning -= 1
        if self._closed:
            worker.kill()
            raise PoolClosedError("worker pool is closed")
        loop = asyncio.get_running_loop()
        loop.add_reader(worker.conn.fileno(), self._on_reply, worker)
        worker.listening = loop
        self._all.add(worker)
        self._wake()
        return worker

    async def start(self) -> WorkerPool:
        """Start every worker now rather than on first use (the fork server's first start
        imports the preload modules: seconds, better spent before the first deadline)."""
        self._check_open()
        while len(self._all) + self._spawning < self.size:
            worker = await self._add_worker()
            with contextlib.suppress(NotStarted):
                await worker.write(self._outdated(worker))
        return self

    def close(self) -> None:
        """Stop every worker: idle ones are asked to exit, busy ones are killed (their
        tasks raise PoolClosedError). Safe to call twice. Call it from the event loop's
        thread (or when no task runs): it wakes the tasks waiting on killed workers."""
        self._closed = True
        idle = [worker for worker in self._all if not worker.queue]
        for worker in idle:
            with contextlib.suppress(OSError):
                worker.conn.send(None)
        for worker in idle:
            worker.process.join(_CLOSE_GRACE)
        for worker in list(self._all):
            self._drop(worker, PoolClosedError("worker pool closed during the task"))
        if self._room is not None:
            self._room.set()

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

    async def run(self, fn: Callable[..., T], *args: Any, timeout: float | None = None,
                  priority: int = 0) -> T:
        """``fn(*args)`` in a worker process; its result, or its exception re-raised.

        ``fn`` and ``args`` must be picklable (a module-level function). ``timeout`` counts
        from the moment a worker starts the task, not the wait before. When tasks wait for
        a worker, the highest ``priority`` goes first, then the longest waiting.
        """
        self._check_open()
        try:
            payload = bytes(ForkingPickler.dumps((fn, args)))
        except (pickle.PicklingError, TypeError, AttributeError) as err:
            raise TaskError(f"task not picklable: {err}") from err
        if self._slots is None:
            self._slots = PriorityGate(self.size * DEPTH)
        name = getattr(fn, "__name__", "task")
        async with self._slots.slot(priority):
            reply = await self._run_payload(payload, name, timeout)
        if reply[0] == "ok":
            result: T = reply[1]
            return result
        exc: BaseException = reply[1]
        if reply[2]:
            exc.add_note(f"in worker process:\n{reply[2]}")
        raise exc

    async def _run_payload(self, payload: bytes, name: str,
                           timeout: float | None) -> tuple[Any, ...]:
        for _ in range(_MAX_HANDOVERS):
            self._check_open()
            worker = await self._assign()
            task = Task(payload, name, timeout, asyncio.get_running_loop().create_future())
            try:
                return await self._give(worker, task)
            except NotStarted:
                continue  # its worker went away before reaching it: another one takes it
        raise WorkerCrashedError(f"workers died before they could start {name}")

    async def _assign(self) -> WorkerHandle:
        """An idle worker, else a new one while there are fewer than ``size``, else the
        least busy one with room for a next task."""
        if self._room is None:
            self._room = asyncio.Event()
        while True:
            self._check_open()
            for worker in [w for w in self._all if not w.queue and not w.process.is_alive()]:
                self._drop(worker, NotStarted())  # died while idle (OOM killer, kill -9)
            taking = [w for w in self._all if not self._retiring(w)]
            idle = [w for w in taking if not w.queue]
            if idle:
                return idle[0]
            if len(taking) + self._spawning < self.size:
                await self._add_worker()  # another task may take it first: look again
                continue
            room = [w for w in taking if len(w.queue) < DEPTH]
            if room:
                return min(room, key=lambda w: len(w.queue))
            self._room.clear()
            await self._room.wait()

    def _retiring(self, worker: WorkerHandle) -> bool:
        limit = self.max_tasks_per_child
        return limit is not None and worker.given >= limit

    def _outdated(self, worker: WorkerHandle) -> list[bytes]:
        """The shares ``worker`` lacks, marked as sent: they go out before anything else."""
        missing = []
        for key, (version, payload) in self._shares.items():
            if worker.shared.get(key) != version:
                missing.append(payload)
                worker.shared[key] = version
        return missing

    async def _give(self, worker: WorkerHandle, task: Task) -> tuple[Any, ...]:
        worker.queue.append(task)
        worker.given += 1
        written = worker.write([*self._outdated(worker), task.payload])
        try:
            await asyncio.shield(written)
            if worker.queue and worker.queue[0] is task and worker.deadline is None:
                worker.start_clock(self._overran)
            return await task.reply
        except NotStarted:
            # The worker cannot be written to: it is gone, perhaps killed by the task it
            # was running, which then learns so as a crash.
            running = worker.queue[0] if worker.queue else None
            task.forget()
            if running is task:
                self._drop(worker, NotStarted())
            elif running is not None:
                self._lost(worker)
            raise
        except asyncio.CancelledError:
            task.forget()  # a reply still to come is dropped
            if worker.queue and worker.queue[0] is task:
                # Running, and nobody wants its result: the worker's state is unknown.
                self.replaced += 1
                self._drop(worker, NotStarted())
            # Not started yet: it runs when its turn comes, and its reply is dropped.
            raise

    def _on_reply(self, worker: WorkerHandle) -> None:
        """The worker's pipe is readable: the reply of its running task, or its end."""
        try:
            reply: tuple[Any, ...] = worker.conn.recv()
        except (EOFError, OSError):
            self._lost(worker)
            return
        except Exception as exc:  # the reply arrived but cannot be unpickled here
            reply = ("error", TaskError(f"task result not readable: {exc!r}"), "")
        if not worker.queue:
            self._drop(worker, NotStarted())  # a reply nobody asked for: out of step
            return
        task = worker.queue.popleft()
        worker.stop_clock()
        if not task.reply.done():
            task.reply.set_result(reply)
        if worker.queue:
            worker.start_clock(self._overran)
        elif self._retiring(worker):
            self._retire(worker)
        self._wake()

    def _lost(self, worker: WorkerHandle) -> None:
        if self._closed:
            self._drop(worker, PoolClosedError("worker pool closed during the task"))
            return
        worker.process.join(_CLOSE_GRACE)
        running = worker.queue[0].name if worker.queue else "no task"
        if worker.queue:
            self.replaced += 1
        self._drop(worker, WorkerCrashedError(
            f"worker process died during {running} (exit code {worker.process.exitcode})"))

    def _overran(self, worker: WorkerHandle, task: Task) -> None:
        if worker.queue and worker.queue[0] is task and worker in self._all:
            self.replaced += 1
            self._drop(worker, TaskTimeoutError(
                f"task {task.name} ran past {task.timeout}s; worker killed"))

    def _retire(self, worker: WorkerHandle) -> None:
        with contextlib.suppress(OSError):
            worker.conn.send(None)
        worker.process.join(_CLOSE_GRACE)
        self._drop(worker, NotStarted())

    def _drop(self, worker: WorkerHandle, running_error: BaseException) -> None:
        """The worker gone for good: its running task fails with ``running_error``, the
        ones after it were never started and go to other workers (or fail with the pool,
        when it is closed)."""
        self._all.discard(worker)
        worker.kill()
        tasks, worker.queue = list(worker.queue), deque()
        for position, task in enumerate(tasks):
            if task.reply.done():
                continue
            if self._closed:
                task.reply.set_exception(PoolClosedError("worker pool closed during the task"))
            else:
                task.reply.set_exception(running_error if position == 0 else NotStarted())
        self._wake()

    def _wake(self) -> None:
        if self._room is not None:
            self._room.set()

    # -- shared values ---------------------------------------------------------------------

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
        writes = [worker.write(self._outdated(worker))
                  for worker in self._all if not worker.queue]
        for done in await asyncio.gather(*writes, return_exceptions=True):
            if isinstance(done, BaseException) and not isinstance(done, NotStarted):
                raise done

    def sharing(self, key: str) -> Any:
        """The value last shared under ``key`` (before any build), or None."""
        return self._sources.get(key)
