"""What ``watcher run`` does beside its work, as a service of the daemon
(``runtime.Service``): serve the web pages (``http:`` in watcher.yaml) from a process of
their own, and keep systemd informed (READY once the first tick has run, WATCHDOG while the
index answers, STOPPING as soon as SIGTERM arrives).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from watcher.store.reading import Reading
from watcher.systemd import Notifier, keep_watchdog_fed

if TYPE_CHECKING:
    from watcher.runtime import Runtime
    from watcher.web.process import WebProcess

log = logging.getLogger("watcher.daemon")


class Supervision:
    def __init__(self, notifier: Notifier | None = None) -> None:
        self.notifier = notifier or Notifier()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._reading: Reading | None = None
        self._web: WebProcess | None = None
        self.web_url: str | None = None

    async def start(self, runtime: Runtime) -> None:
        """Start the web process when ``http:`` is configured; watch for SIGTERM."""
        self._reading = Reading(runtime.store.engine)
        config = runtime.config
        if config.http is not None:
            from watcher.web.metrics_view import process_exposition
            from watcher.web.process import WebProcess
            from watcher.web.server import bind, url_of

            sock = bind(config.http.host, config.http.port)
            try:
                self.web_url = url_of(sock)
                self._web = WebProcess(config, sock, process_exposition)
            finally:
                sock.close()  # the web process holds its own copy
            self._web.answer_metrics_on(asyncio.get_running_loop())
            log.info("web pages at %s (process %s)", self.web_url, self._web.process.pid)
        self._tasks.append(asyncio.create_task(self._tell_stopping(runtime.stopping),
                                               name="notify-stopping"))

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
