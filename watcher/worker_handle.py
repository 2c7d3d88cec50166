"""The daemon's side of one worker process: its pipe, the tasks given to it, in order.

A worker holds up to ``DEPTH`` tasks: the one it runs and the next, already written to its
pipe, so that it starts the next the moment it has sent a reply instead of waiting for
the daemon's event loop to read that reply and choose what comes next (on a busy machine
that wait left each worker idle for 8% of a cycle: docs/performance.md, "A tenth
round"). Replies come back in the order the tasks went out, so the first task of the
queue is always the one running, and only its clock runs. The price: a task behind a slow
one waits for it even when another worker frees up first, at most the slow task's time
limit; the pool gives a task to an idle worker whenever there is one.

Writes never block the event loop and need no thread: what the pipe's buffer takes is
sent at once, and the rest each time the pipe has room again (a page larger than the
buffer waits for the worker to read the task before it). Writes to one worker are
chained, each after the one before has finished, whatever happens to the coroutines that
asked for them: a message is finished once begun, so two tasks' bytes never interleave
in the pipe.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

DEPTH = 2  # tasks a worker holds: the one it runs and the next, already in its pipe
# A send that takes what the buffer has room for and returns, on the pipe's blocking socket
# (the reply reader relies on it blocking); no SIGPIPE from a worker that is gone.
_NOW = socket.MSG_DONTWAIT | getattr(socket, "MSG_NOSIGNAL", 0)


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
    _socket: socket.socket | None = None  # the pipe's own end, duplicated, for sends

    def write(self, messages: Sequence[bytes]) -> asyncio.Future[None]:
        """Send ``messages`` after every earlier write to this worker has finished; the
        future fails with NotStarted if the worker is gone. Cancelling it does not stop
        the write."""
        previous, loop = self._last_write, asyncio.get_running_loop()
        data = memoryview(_framed(messages))
        sending: asyncio.Future[None]
        if previous is None or previous.done():
            # Nothing ahead of it: what the buffer takes goes now, without a task to
            # schedule; most tasks fit whole.
            sending = loop.create_future()
            try:
                data = data[self._send_some(data):]
            except NotStarted as exc:
                sending.set_exception(exc)
            else:
                if not data:
                    sending.set_result(None)
            if sending.done():
                sending.add_done_callback(_seen)
                self._last_write = sending
                return sending
            sending = loop.create_task(self._send_rest(data))
        else:
            sending = loop.create_task(self._write_after(previous, data))
        sending.add_done_callback(_seen)  # a caller cancelled meanwhile never looks
        self._last_write = sending
        shielded = asyncio.shield(sending)
        shielded.add_done_callback(_seen)
        return shielded

    async def _write_after(self, previous: asyncio.Future[None], data: memoryview) -> None:
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await previous  # its failure is its own caller's to see
        await self._send_rest(data)

    async def _send_rest(self, data: memoryview) -> None:
        """``data`` sent, as the pipe makes room; raises NotStarted if the worker is gone
        (a dead reader makes the pipe writable, and the send then fails)."""
        while data:
            data = data[self._send_some(data):]
            if data:
                await self._writable()

    def _send_some(self, data: memoryview) -> int:
        """Bytes of ``data`` the pipe's buffer took (0 when full)."""
        if self.gone:
            raise NotStarted
        if self._socket is None:
            self._socket = socket.socket(fileno=os.dup(self.conn.fileno()))
            self._socket.setblocking(True)  # shared with the reply reader, which blocks
        try:
            return self._socket.send(data, _NOW)
        except BlockingIOError:
            return 0
        except OSError as exc:
            raise NotStarted from exc

    async def _writable(self) -> None:
        assert self._socket is not None
        loop, descriptor = asyncio.get_running_loop(), self._socket.fileno()
        room: asyncio.Future[None] = loop.create_future()
        loop.add_writer(descriptor, _resolve, room)
        try:
            await room
        finally:
            loop.remove_writer(descriptor)

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
        # A write may still be under way (it fails now that the process is dead): closed
        # only after, or it could write into whatever pipe takes the same descriptor
        # number next.
        if self._last_write is None or self._last_write.done():
            self._close()
        else:
            self._last_write.add_done_callback(lambda _: self._close())

    def _close(self) -> None:
        with contextlib.suppress(OSError):
            if self._socket is not None:
                self._socket.close()
            self.conn.close()


def _framed(messages: Sequence[bytes]) -> bytes:
    """``messages`` as ``Connection.send_bytes`` frames them, which the worker's
    ``recv_bytes`` reads: a signed 32-bit big-endian length, or -1 and a 64-bit one."""
    parts: list[bytes] = []
    for message in messages:
        size = len(message)
        parts.append(struct.pack("!i", size) if size <= 0x7FFFFFFF
                     else struct.pack("!iQ", -1, size))
        parts.append(message)
    return b"".join(parts)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _seen(written: asyncio.Future[None]) -> None:
    if not written.cancelled():
        written.exception()
