"""One cycle of a running daemon, for ``bench_cycle.py --daemon``.

``run --once`` pays its start-up in every cycle: the interpreter, the imports, the index,
the rules' check, the workers' fork server and its preload. A daemon pays them once, and
its cycles are what its users wait for. So the daemon is started (``watcher run``) on a
config with one small warm-up feed, which it polls at once, as any daemon does on start:
the workers parse a feed and extract a few pages, and the rules are compiled where they
match. Then the benchmark's feeds are added to watcher.yaml, as a user adding feeds to a
running daemon would; the daemon takes up the edit and polls them. The cycle is timed from
the first request for one of those feeds to the log line that reports the last of their
articles stored; the CPU is the whole process tree's from the edit to that line, so it
also counts the daemon taking up the edit, which comes before the first request.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from process_tree import FirstRequest, TreeUsage

from tests.support.servers import LocalHTTPServer

WARM_UP_FEED = "warm-up"
_POLLED = re.compile(r"poll feed=(\S+) status=(\S+) new=\d+ stored=(\d+)")
_WAIT_SECONDS = 300.0


@dataclass(frozen=True)
class DaemonCycle:
    seconds: float  # from the first request for a benchmark feed to the last article stored
    cpu: float  # CPU seconds of the whole process tree over that span
    peak: int  # peak RSS of the tree over the daemon's whole run, bytes
    stored: int


class _Log:
    """The daemon's log lines, read in a thread: how many articles each feed stored."""

    def __init__(self, stream: IO[str]) -> None:
        self.stored: dict[str, int] = {}
        self.lines: list[str] = []
        self.changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self.changed:
                self.lines.append(line)
                polled = _POLLED.search(line)
                if polled and polled.group(2) == "ok":
                    feed = polled.group(1)
                    self.stored[feed] = self.stored.get(feed, 0) + int(polled.group(3))
                self.changed.notify_all()
        with self.changed:
            self.lines.append("")  # the stream ended: the daemon is gone
            self.changed.notify_all()

    def wait_for(self, done: str, test: Callable[[], bool]) -> float:
        """Block until ``test()`` holds; the ``perf_counter`` time it first did."""
        deadline = time.monotonic() + _WAIT_SECONDS
        with self.changed:
            while not test():
                if self.lines and self.lines[-1] == "":
                    raise SystemExit(f"the daemon exited before {done}:\n"
                                     + "".join(self.lines[-30:]))
                if not self.changed.wait(timeout=max(0.0, deadline - time.monotonic())):
                    raise SystemExit(f"no {done} in {_WAIT_SECONDS:.0f} s:\n"
                                     + "".join(self.lines[-30:]))
            return time.perf_counter()


def checkout_env(checkout: Path) -> dict[str, str]:
    """The environment that ``checkout``'s watcher runs in: its code first on the path, and
    a user cache folder of its own, as each install has (two checkouts sharing one would
    replace each other's kept rules at every turn, each then checking and compiling from
    scratch). The folder outlives the benchmark, as a user's does."""
    digest = hashlib.sha256(str(checkout.resolve()).encode()).hexdigest()[:12]
    cache = Path(tempfile.gettempdir()) / f"watcher-bench-cache-{digest}"
    environment = {**os.environ, "PYTHONPATH": str(checkout), "XDG_CACHE_HOME": str(cache)}
    environment.pop("CACHE_DIRECTORY", None)
    return environment


def daemon_cycle(server: LocalHTTPServer, config: Path, *, base: str, warm_up: str,
                 feeds: str, feed_names: list[str], total: int, checkout: Path
                 ) -> DaemonCycle:
    """Start ``watcher run`` of ``checkout`` on ``base`` + the warm-up feed, wait until it
    has stored the warm-up's articles, add ``feeds`` to its config and time the cycle in
    which it stores their ``total`` articles."""
    config.write_text(f"{base}feeds:\n{warm_up}", encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "watcher", "run", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=checkout,
        env=checkout_env(checkout))
    assert process.stdout is not None
    usage = TreeUsage(process.pid)
    log = _Log(process.stdout)
    try:
        log.wait_for("warm-up poll", lambda: WARM_UP_FEED in log.stored)
        first_request = FirstRequest(server)
        cpu_before = usage.now()
        config.write_text(f"{base}feeds:\n{warm_up}{feeds}", encoding="utf-8")
        ended = log.wait_for(
            f"{total} articles stored",
            lambda: sum(log.stored.get(name, 0) for name in feed_names) >= total)
        cpu = usage.now() - cpu_before
        stored = sum(log.stored.get(name, 0) for name in feed_names)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        usage.stop()
    if process.returncode != 0:
        raise SystemExit(f"watcher run exited {process.returncode}:\n"
                         + "".join(log.lines[-30:]))
    return DaemonCycle(first_request.seconds_to(ended), cpu, usage.peak, stored)
