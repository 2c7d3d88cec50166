"""What the cycle benchmarks watch from outside: a process tree's CPU and memory, and when
the local server sees its next request."""

from __future__ import annotations

import threading
import time

import psutil

from tests.support.servers import LocalHTTPServer


class TreeUsage:
    """Peak resident memory and total CPU of a process and all its descendants, sampled.

    The worker processes are children of multiprocessing's fork server, not of the watcher,
    so the watcher's own rusage would miss them; sampling the whole tree does not (each
    process's CPU is counted up to its last sample, at most one interval short, or up to
    now when ``now()`` is asked).
    """

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self.cpu: dict[int, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _measure(self) -> None:
        try:
            tree = [self.process, *self.process.children(recursive=True)]
        except psutil.Error:
            return
        rss = 0
        for proc in tree:
            try:
                times = proc.cpu_times()
                rss += proc.memory_info().rss
            except psutil.Error:
                continue
            with self._lock:
                self.cpu[proc.pid] = times.user + times.system
        with self._lock:
            self.peak = max(self.peak, rss)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._measure()
            time.sleep(self.interval)

    def now(self) -> float:
        """CPU seconds of the tree so far (processes that ended count up to their last
        sample)."""
        self._measure()
        with self._lock:
            return sum(self.cpu.values())

    def stop(self) -> tuple[int, float]:
        self._stop.set()
        self._thread.join()
        return self.peak, sum(self.cpu.values())


class FirstRequest:
    """When the server sees its next request (``perf_counter`` time), watched from a thread."""

    def __init__(self, server: LocalHTTPServer) -> None:
        self.at: float | None = None
        self._server, self._seen = server, len(server.requests)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            if len(self._server.requests) > self._seen:
                self.at = time.perf_counter()
                return
            time.sleep(0.002)

    def seconds_to(self, end: float) -> float:
        self._stop.set()
        self._thread.join()
        assert self.at is not None, "the server saw no request"
        return end - self.at
