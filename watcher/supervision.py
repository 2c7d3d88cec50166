"""What ``watcher run`` does beside its work, as a service of the daemon
(``runtime.Service``): serve the web pages (``http:`` in watcher.yaml) from a process of
their own, restarted when it dies, and keep systemd informed (READY once the first tick has
run, WATCHDOG while the index answers, STOPPING as soon as SIGTERM arrives).

The daemon keeps the listening socket for the life of the run: a restarted web process
gets it again, and a request that arrives while none runs waits in the socket's backlog
instead of being refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import time
from typing import TYPE_CHECKING

from watcher.config import HttpConfig
from watcher.errors import WatcherError
from watcher.store.reading import Reading
from watcher.systemd import Notifier, keep_watchdog_fed

if TYPE_CHECKING:
    from watcher.runtime import Runtime
    from watcher.web.process import WebProcess

log = logging.getLogger("watcher.daemon")

# A web process that dies is started again after RESTART_FIRST seconds, doubling with each
# death up to RESTART_MAX (a page that crashes it at once must not take a core in a loop);
# one that served for STABLE_SECONDS starts the count again.
RESTART_FIRST = 1.0
RESTART_MAX = 60.0
STABLE_SECONDS = 60.0


class Supervision:
    def __init__(self, notifier: Notifier | None = None, *,
                 port_may_be_taken: bool = False) -> None:
        """``port_may_be_taken``: several cluster members on one host share one
        ``http.listen``; the first to bind it serves the pages (all read the same index),
        the others log that and go on without."""
        self.notifier = notifier or Notifier()
        self.port_may_be_taken = port_may_be_taken
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._reading: Reading | None = None
        self._web: WebProcess | None = None
        self._socket: socket.socket | None = None
        self.web_url: str | None = None

    async def start(self, runtime: Runtime) -> None:
        """Start the web process when ``http:`` is configured; watch for SIGTERM."""
        self._reading = Reading(runtime.store.engine)
        config = runtime.config
        if config.http is not None:
            self._socket = self._bind(config.http)
        if self._socket is not None:
            from watcher.web.server import url_of

            self.web_url = url_of(self._socket)
            self._start_web(runtime)
            self._tasks.append(asyncio.create_task(self._keep_web_running(runtime),
                                                   name="web-process"))
        self._tasks.append(asyncio.create_task(self._tell_stopping(runtime.stopping),
                                               name="notify-stopping"))

    def _bind(self, http: HttpConfig) -> socket.socket | None:
        from watcher.web.server import bind

        try:
            return bind(http.host, http.port)
        except WatcherError as exc:
            if not (self.port_may_be_taken and _address_in_use(exc)):
                raise
            log.warning("%s; another process on this host serves the web pages, this one "
                        "serves none", exc)
            return None

    def _start_web(self, runtime: Runtime) -> WebProcess:
        from watcher.web.metrics_view import process_exposition
        from watcher.web.process import WebProcess

        assert self._socket is not None
        web = self._web = WebProcess(runtime.config, self._socket, process_exposition)
        web.answer_metrics_on(asyncio.get_running_loop())
        log.info("web pages at %s (process %s)", self.web_url, web.process.pid)
        return web

    async def _keep_web_running(self, runtime: Runtime) -> None:
        """Wait for the web process to end; unless the daemon is stopping, start another
        after a pause that grows with each death in a row."""
        deaths = 0
        while self._web is not None:
            web = self._web
            started = time.monotonic()
            await _ended(web)
            web.stop_answering()
            await asyncio.to_thread(web.stop)  # reaps it and closes its pipes
            if self._stopping.is_set():
                return
            deaths = 1 if time.monotonic() - started >= STABLE_SECONDS else deaths + 1
            delay = min(RESTART_MAX, RESTART_FIRST * 2 ** (deaths - 1))
            log.warning("the web process %s exited (%s); starting another in %.0f s",
                        web.process.pid, _exit_text(web.process.exitcode), delay)
            await asyncio.sleep(delay)
            try:
                self._start_web(runtime)
            except OSError:  # no process could be made: try again after a longer pause
                log.exception("cannot start the web process")

    def after_first_tick(self) -> None:
        """The daemon is up: systemd may consider the unit started."""
        self.notifier.ready("polling")
        if self._reading is not None:
            self._tasks.append(asyncio.create_task(keep_watchdog_fed(
                self.notifier, self._reading.answers, self._stopping), name="watchdog"))

    async def _tell_stopping(self, stopping: asyncio.Event) -> None:
        await stopping.wait()
        self._told_stopping()

    def _told_stopping(self) -> None:
        if not self._stopping.is_set():
            self._stopping.set()
            self.notifier.stopping()

    async def stop(self) -> None:
        # The daemon may stop its services before the task above got its turn.
        self._told_stopping()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._web is not None:
            self._web.stop_answering()
            await asyncio.to_thread(self._web.stop)
            self._web = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None


async def _ended(web: WebProcess) -> None:
    """Returns once the web process has ended (its sentinel becomes readable)."""
    loop = asyncio.get_running_loop()
    ended: asyncio.Future[None] = loop.create_future()
    sentinel = web.process.sentinel

    def done() -> None:
        if not ended.done():
            ended.set_result(None)

    loop.add_reader(sentinel, done)
    try:
        await ended
    finally:
        loop.remove_reader(sentinel)


def _exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        return f"killed by signal {-code}"
    return f"exit status {code}"


def _address_in_use(error: WatcherError) -> bool:
    cause = error.__cause__
    return isinstance(cause, OSError) and cause.errno == errno.EADDRINUSE
