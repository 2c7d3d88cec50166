"""The web server of ``watcher run`` in a process of its own, at a lower CPU priority.

Pages cost CPU (folding a page of matches, matching the tester's query); in the daemon's
process they would take the interpreter lock from polling, and at the same priority the
CPU from the extraction workers. In their own process, at the idle scheduling policy,
they get what polling leaves.

- The listening socket is bound by the daemon (a busy port fails start-up there) and handed
  over; the daemon's counters (``watcher.metrics``) stay in the daemon, which answers the web
  process's request for them over a pipe (``MetricsLink``).
- The web process reads watcher.yaml and rules.yaml itself and follows their edits
  (``FollowedFiles``): the last version that checks clean is the one shown.
- It exits when the daemon asks (SIGTERM) or when the daemon is gone (its lifeline closes).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection

from watcher.config import Config, check_config
from watcher.logformat import current_format, formatter
from watcher.rules import RuleSet, check_rules

log = logging.getLogger("watcher.web")

NICENESS = 10  # how much lower than polling the pages run where the idle policy is refused
METRICS_TIMEOUT = 5.0  # seconds the web process waits for the daemon's counters
STOP_SECONDS = 10.0
FOLLOW_SECONDS = 2.0  # how often the web process looks for edits of its two files


class FollowedFiles:
    """watcher.yaml and rules.yaml as last checked clean; edits are picked up on use, at
    most every ``FOLLOW_SECONDS``."""

    def __init__(self, config: Config, rules: RuleSet) -> None:
        self._config, self._rules = config, rules
        self._stamps = self._stamp()
        self._checked = time.monotonic()
        self._lock = threading.Lock()

    def _stamp(self) -> tuple[tuple[float, int] | None, ...]:
        out: list[tuple[float, int] | None] = []
        for path in (self._config.path, self._config.rules_path):
            try:
                info = path.stat()
                out.append((info.st_mtime, info.st_size))
            except OSError:
                out.append(None)
        return tuple(out)

    def _follow(self) -> None:
        with self._lock:
            if time.monotonic() - self._checked < FOLLOW_SECONDS:
                return
            self._checked = time.monotonic()
            stamps = self._stamp()
            if stamps == self._stamps:
                return
            self._stamps = stamps
            config, problems = check_config(self._config.path)
            if config is None or problems:
                return  # the daemon logs the problems; the pages keep the last good files
            rules, problems = check_rules(
                config.rules_path, digests=[d.name for d in config.digests],
                channels=[c.name for c in config.channels])
            self._config = config
            if rules is not None and not problems:
                self._rules = rules

    def config(self) -> Config:
        self._follow()
        return self._config

    def rules(self) -> RuleSet:
        self._follow()
        return self._rules


class MetricsLink:
    """The web process's end of the pipe to the daemon: ask, get the exposition text."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._lock = threading.Lock()

    def __call__(self) -> bytes:
        with self._lock:
            self.conn.send_bytes(b"metrics")
            if not self.conn.poll(METRICS_TIMEOUT):
                raise TimeoutError("the daemon did not send its metrics in time")
            return self.conn.recv_bytes()


def lower_priority() -> None:
    """Pages get only the CPU that polling leaves: at the idle scheduling policy any waking
    polling process takes the core at once, where a niced process only weighs less
    (docs/web.md, "The idle policy"); the nice level stays for systems that refuse it.

    Both hold for the calling thread and the threads it starts, so this runs first."""
    os.nice(NICENESS)
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError) as err:  # not Linux, or refused by a seccomp policy
        log.debug("the web process stays at nice %d: %s", NICENESS, err)


def freeze_start_up() -> None:
    """Take what start-up made (modules, the app and its templates, the store's tables) out
    of the garbage collector's sight: it lives as long as the process, yet every full
    collection would walk it again, a pause added to whichever request it falls in."""
    gc.collect()
    gc.freeze()


def _web_main(config: Config, sock: socket.socket, metrics: Connection,
              lifeline: Connection, log_format: str, log_level: int) -> None:
    """The web process: serve until SIGTERM or until the daemon is gone."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    logging.basicConfig(level=log_level, handlers=[handler])
    lower_priority()
    # The rules as the daemon loaded them a moment ago (a compiled rule set is large to
    # send; compiling it again here costs the web process, not polling).
    rules, _problems = check_rules(config.rules_path, digests=[d.name for d in config.digests],
                                   channels=[c.name for c in config.channels])
    from watcher.store import Store
    from watcher.web.app import create_app
    from watcher.web.server import uvicorn_server
    from watcher.websub import callback as websub

    files = FollowedFiles(config, rules or RuleSet([]))
    with Store.open(config) as store:
        assert config.http is not None
        app = create_app(store, files.rules, files.config, token=config.http.token,
                         process_metrics=MetricsLink(metrics),
                         extra_routes=websub.routes(store, files.config),
                         open_prefixes=(websub.OPEN_PREFIX,), collectors=websub.COLLECTORS)
        server = uvicorn_server(app)
        freeze_start_up()

        def watch_lifeline() -> None:
            with contextlib.suppress(EOFError, OSError):
                lifeline.recv()
            server.should_exit = True

        threading.Thread(target=watch_lifeline, daemon=True).start()
        asyncio.run(server.serve(sockets=[sock]))


class WebProcess:
    """The daemon's handle on its web process."""

    def __init__(self, config: Config, sock: socket.socket,
                 process_metrics: Callable[[], bytes]) -> None:
        context = multiprocessing.get_context("spawn")
        self._metrics, child_metrics = context.Pipe(duplex=True)
        child_lifeline, self._lifeline = context.Pipe(duplex=False)
        self.process_metrics = process_metrics
        self.process = context.Process(
            target=_web_main, name="watcher-web", daemon=True,
            args=(config, sock, child_metrics, child_lifeline, current_format(),
                  logging.getLogger().getEffectiveLevel()))
        self.process.start()
        child_metrics.close()
        child_lifeline.close()
        self._loop: asyncio.AbstractEventLoop | None = None

    def answer_metrics_on(self, loop: asyncio.AbstractEventLoop) -> None:
        """Answer the web process's requests for the counters from the daemon's loop (the
        counters are the daemon's; answering takes microseconds)."""
        def answer() -> None:
            try:
                self._metrics.recv_bytes()
                self._metrics.send_bytes(self.process_metrics())
            except (EOFError, OSError):
                self.stop_answering()  # the web process is gone

        loop.add_reader(self._metrics.fileno(), answer)
        self._loop = loop

    def stop_answering(self) -> None:
        """On the loop's thread: no more answers (before ``stop``)."""
        if self._loop is not None:
            self._loop.remove_reader(self._metrics.fileno())
            self._loop = None

    def stop(self) -> None:
        if self.process.is_alive() and self.process.pid is not None:
            os.kill(self.process.pid, signal.SIGTERM)
        self.process.join(STOP_SECONDS)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self._metrics.close()
        self._lifeline.close()
