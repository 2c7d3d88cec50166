"""What runs inside a worker process of ``watcher.workers.WorkerPool``: the task loop, and
the values the pool shared, as built there (``shared``).

Kept apart from the pool, which runs in the daemon: this side only reads tasks from its
pipe, runs them and sends back each result or exception, and builds shared values as they
arrive.
"""

from __future__ import annotations

import pickle
import signal
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from watcher.errors import WatcherError


class TaskError(WatcherError):
    """A task's result or exception could not be passed back from the worker."""



def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else a TaskError naming it."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return TaskError(f"{type(exc).__name__}: {exc} (exception not picklable)")
    return exc


@dataclass(frozen=True)
class Share:
    key: str
    build: Callable[[Any], Any] | None
    value: Any


@dataclass(frozen=True)
class _BuildFailed:
    error: BaseException


# In a worker process: what the pool shared, as built there.
_SHARED: dict[str, Any] = {}


def shared(key: str) -> Any:
    """In a task: the value the pool shared under ``key``, built in this worker.

    Raises KeyError when nothing was shared under ``key``, and the build's own exception
    when building it failed.
    """
    value = _SHARED[key]
    if isinstance(value, _BuildFailed):
        raise value.error
    return value


def _take_share(share: Share) -> None:
    try:
        _SHARED[share.key] = share.build(share.value) if share.build else share.value
    except Exception as exc:
        _SHARED[share.key] = _BuildFailed(exc)


def serve_tasks(conn: Connection) -> None:
    """Run tasks sent over ``conn`` until told to stop (None) or the parent goes away."""
    # Ctrl-C reaches the whole process group; the parent decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        if isinstance(message, Share):
            _take_share(message)  # no reply: the next task's reply follows it in order
            continue
        fn, args = message
        try:
            reply: tuple[Any, ...] = ("ok", fn(*args))
        except Exception as exc:
            reply = ("error", _portable(exc), traceback.format_exc())
        try:
            conn.send(reply)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            # Connection.send pickles before writing, so nothing partial went out.
            conn.send(("error", TaskError(f"result not picklable: {exc}"), ""))
