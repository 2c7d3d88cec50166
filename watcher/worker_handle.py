"""The daemon's side of one worker process: its pipe, the tasks given to it, in order.

A worker holds up to ``DEPTH`` tasks: the one it runs and the next, already written to its
pipe, so that it starts the next the moment it has sent a reply instead of waiting for
the daemon's event loop to read that reply and choose what comes next (on a busy machine
that wait left each worker idle for 8% of a cycle: docs/performance.md, "A tenth
round"). Replies come back in the order the tasks went out, so the first task of the
queue is always the one running, and only its clock runs. The price: a task behind a slow
one waits for it even when another worker frees up first, at most the slow task's time
limit; the pool gives a task to an idle worker whenever there is one.

Writes to one worker are chained, each after the one before has finished, whatever
happens to the coroutines that asked for them: two tasks' bytes never interleave in the
pipe, even when one of them is cancelled while its large write runs in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

DEPTH = 2  # tasks a worker holds: the one it runs and the next, already in its pipe
# Writes bigger than this go to a thread: they may fill the pipe's buffer and then wait for
# the worker to read, which the event loop must not do. Two smaller ones (the task running,
# not yet read, and the next) fit a socket pair's buffer (176 KiB on Linux's defaults).
_PIPE_BUFFER = 64 * 1024


class NotStarted(Exception):
    """The worker went away before it reached this task: it can go to another worker."""


@dataclass(eq=False)  # compared by identity: two tasks with equal payloads are two tasks
class Task:
    payload: bytes
    name: str
    timeout: float | None
    reply: asyncio.Future[tuple[Any, ...]]

    def forget(self) -> None:
        """Nobody will await the reply: cancelled if it has not come, else marked seen (an
        exception the pool set, such as NotStarted, would be logged as never retrieved)."""
        if not self.reply.done():
            self.reply.cancel()
        elif not self.reply.cancelled():
            self.reply.exception()


@dataclass(eq=False)  # mutable bookkeeping, compared and hashed by identity
class WorkerHandle:
    process: BaseProcess
    conn: Connection
    given: int = 0  # tasks ever given to it (for its retirement)
    queue: deque[Task] = field(default_factory=deque)  # given, not yet answered; [0] runs
    shared: dict[str, int] = field(default_factory=dict)  # key -> version sent to it
    deadline: asyncio.TimerHandle | None = None  # the running task's time limit
    listening: asyncio.AbstractEventLoop | None = None  # the loop its reader is on
    gone: bool = False  # killed: nothing more is written to it
    _last_write: asyncio.Future[None] | None = None

    def write(self, messages: Sequence[bytes], threads: Executor) -> asyncio.Future[None]:
        """Send ``messages`` after every earlier write to this worker has finished; the
        future fails with NotStarted if the worker is gone."""
        previous, loop = self._last_write, asyncio.get_running_loop()
        if (previous is None or previous.done()) and sum(map(len, messages)) <= _PIPE_BUFFER:
            # Nothing ahead of it and small enough not to block: written now, without a
            # task to schedule.
            written: asyncio.Future[None] = loop.create_future()
            try:
                self._write_now(list(messages))
                written.set_result(None)
            except NotStarted as exc:
                written.set_exception(exc)
        else:
            written = loop.create_task(self._write_after(previous, list(messages), threads))
        written.add_done_callback(_seen)  # a caller cancelled meanwhile never looks
        self._last_write = written
        return written

    def _write_now(self, messages: list[bytes]) -> None:
        if self.gone:
            raise NotStarted
        try:
            self._send(messages)
        except OSError as exc:
            raise NotStarted from exc

    async def _write_after(self, previous: asyncio.Future[None] | None,
                           messages: list[bytes], threads: Executor) -> None:
        if previous is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await previous  # its failure is its own caller's to see
        if sum(map(len, messages)) <= _PIPE_BUFFER:
            self._write_now(messages)
            return
        if self.gone:
            raise NotStarted
        try:
            await asyncio.get_running_loop().run_in_executor(threads, self._send, messages)
        except OSError as exc:
            raise NotStarted from exc

    def _send(self, messages: list[bytes]) -> None:
        for message in messages:
            self.conn.send_bytes(message)

    def start_clock(self, on_overrun: Callable[[WorkerHandle, Task], None]) -> None:
        """The running task's time limit, counted from now (when it starts)."""
        self.stop_clock()
        if self.queue and self.queue[0].timeout is not None:
            self.deadline = asyncio.get_running_loop().call_later(
                self.queue[0].timeout, on_overrun, self, self.queue[0])

    def stop_clock(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def kill(self) -> None:
        """The process killed and its pipe closed; the caller fails its tasks."""
        self.stop_clock()
        self.gone = True
        if self.listening is not None and not self.conn.closed:
            # Unregister before closing: a closed fd never wakes its reader, and its number
            # may be reused at once by the next worker's pipe.
            self.listening.remove_reader(self.conn.fileno())
        self.listening = None
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        # A thread may still be writing to the pipe (it fails now that the process is
        # dead): closed only after, or that thread could write into whatever pipe takes
        # the same descriptor number next.
        if self._last_write is None or self._last_write.done():
            self._close()
        else:
            self._last_write.add_done_callback(lambda _: self._close())

    def _close(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.close()


def _seen(written: asyncio.Future[None]) -> None:
    if not written.cancelled():
        written.exception()
