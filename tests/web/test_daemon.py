"""``watcher run`` as systemd runs it: a real daemon process serving its pages, polling feeds
from the local HTTP server, telling a unix datagram socket (NOTIFY_SOCKET) READY, WATCHDOG
and STOPPING; its /metrics parsed with prometheus-client's own parser and checked against
the index it wrote."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.local import free_port
from tests.support.newsroom import rss, serve_corpus, serve_seeds
from tests.support.servers import LocalHTTPServer
from tests.test_end_to_end import write_config
from watcher.store import Store
from watcher.store.reading import Reading

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as running:
        yield running


class NotifySocket:
    """What systemd listens on: a unix datagram socket; each datagram one message. Read
    only when asked, as a busy supervisor might: the daemon must not wait on it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.received: list[str] = []

    def wait_for(self, field: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while field not in "\n".join(self.received):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{field} never arrived; got {self.received}")
            self.sock.settimeout(remaining)
            self.received.append(self.sock.recv(4096).decode("utf-8"))

    def drain(self) -> None:
        """Read what is queued, as systemd would have by now."""
        self.sock.setblocking(False)
        while True:
            try:
                self.received.append(self.sock.recv(4096).decode("utf-8"))
            except BlockingIOError:
                return

    def close(self) -> None:
        self.sock.close()


def metric_values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def test_daemon_serves_pages_metrics_and_tells_systemd(
        tmp_path: Path, server: LocalHTTPServer) -> None:
    seeds = serve_seeds(server)
    server.route("/rss", rss(list(seeds.values()), server), content_type="application/rss+xml")
    corpus = serve_corpus(server, limit=4)
    server.route("/more", rss(corpus, server), content_type="application/rss+xml")
    server.route("/broken", b"not a feed at all", content_type="text/plain")
    port = free_port()
    config = write_config(tmp_path, server, {"independent": "/rss", "more": "/more",
                                             "broken": "/broken"},
                          extra=f"http:\n  listen: 127.0.0.1:{port}\n")
    notify = NotifySocket(tmp_path / "notify.sock")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "watcher", "--log-format", "json", "run", "--config",
         str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "NOTIFY_SOCKET": str(notify.path),
             "WATCHDOG_USEC": "1000000"})
    base = f"http://127.0.0.1:{port}"
    try:
        notify.wait_for("READY=1")
        notify.wait_for("WATCHDOG=1")
        assert httpx.get(base + "/readyz", timeout=60).status_code == 200
        deadline = time.monotonic() + 100
        while True:
            values = metric_values(httpx.get(base + "/metrics", timeout=60).text)
            polls = sum(v for (name, _), v in values.items() if name == "watcher_polls_total")
            if polls >= 3 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        front = httpx.get(base + "/", timeout=60)
        notify.drain()
        daemon.send_signal(signal.SIGTERM)
        notify.wait_for("STOPPING=1")
        output, _ = daemon.communicate(timeout=30)
    finally:
        if daemon.poll() is None:
            daemon.kill()
        notify.close()
    assert daemon.returncode == 0, output
    assert polls == 3, output
    with Store.open(load(config)) as store:
        stored = store.article_count()
        totals = Reading(store.engine).match_totals()
        last_ok = {name: s.last_success for name, s in store.feed_states().items()}
    assert values[("watcher_polls_total", (("outcome", "ok"),))] == 2
    assert values[("watcher_polls_total", (("outcome", "error"),))] == 1
    assert values[("watcher_articles_stored_total", ())] == stored == 6
    for rule, count in totals.items():
        assert values[("watcher_matches_total", (("rule", rule),))] == count
    assert values[("watcher_extraction_seconds_count", ())] == stored
    assert values[("watcher_match_seconds_count", ())] == stored
    for name in ("independent", "more"):
        recorded = last_ok[name]
        assert recorded is not None
        key = ("watcher_feed_last_success_timestamp_seconds", (("feed", name),))
        assert values[key] == pytest.approx(recorded.timestamp())
    assert ("watcher_feed_last_success_timestamp_seconds", (("feed", "broken"),)) not in values
    assert values[("watcher_outbox_deliveries", (("state", "failed"),))] == 0
    assert any(name == "watcher_build_info" for name, _ in values)
    assert not any("http" in v for _, labels in values for _, v in labels)  # no URLs
    assert front.status_code == 200 and "<mark>" in front.text, front.text
    # every log line is one JSON object
    lines = [line for line in output.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]
    assert any(r["message"].startswith("web pages at http://127.0.0.1:") for r in records)
    assert {"time", "level", "logger", "message"} <= set(records[0])


def load(config: Path):  # type: ignore[no-untyped-def]
    from watcher.config import load_config

    return load_config(config)


def test_a_busy_port_fails_start_up_with_a_clear_error(
        tmp_path: Path, server: LocalHTTPServer) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        config = write_config(tmp_path, server, {},
                              extra=f"http:\n  listen: 127.0.0.1:{port}\n")
        done = subprocess.run([sys.executable, "-m", "watcher", "run", "--config", str(config)],
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"http: cannot listen on 127.0.0.1:{port}" in done.stderr


def test_other_addresses_need_a_token_or_watcher_refuses_to_start(
        tmp_path: Path, server: LocalHTTPServer) -> None:
    config = write_config(tmp_path, server, {}, extra="http:\n  listen: 0.0.0.0:8080\n")
    done = subprocess.run([sys.executable, "-m", "watcher", "run", "--config", str(config)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "watcher.yaml:" in done.stderr and "set http.token" in done.stderr


class Output:
    """The daemon's log lines as they come (a thread reads its pipe)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert process.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(process.stdout,),
                                        daemon=True)
        self._reader.start()

    def _read(self, stream: TextIO) -> None:
        for line in stream:
            self.lines.append(line)

    def wait_for(self, pattern: str, count: int = 1, timeout: float = 60) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m.group(1) for m in map(re.compile(pattern).search, list(self.lines)) if m]
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{pattern!r} x{count} never logged:\n{''.join(self.lines)}")


def thread_policies(pid: int) -> set[int]:
    return {os.sched_getscheduler(int(tid)) for tid in os.listdir(f"/proc/{pid}/task")}


def test_a_killed_web_process_is_noticed_and_started_again(
        tmp_path: Path, server: LocalHTTPServer) -> None:
    port = free_port()
    config = write_config(tmp_path, server, {}, extra=f"http:\n  listen: 127.0.0.1:{port}\n")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "watcher", "run", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    output = Output(daemon)
    base = f"http://127.0.0.1:{port}"
    try:
        first = int(output.wait_for(r"web pages at \S+ \(process (\d+)\)")[0])
        assert httpx.get(base + "/livez", timeout=60).status_code == 200
        assert httpx.get(base + "/", timeout=60).status_code == 200
        # pages take only the CPU polling leaves: every thread of the web process (the
        # server's, and the pool's that run queries) at the idle policy, none of the daemon's
        assert thread_policies(first) == {os.SCHED_IDLE}
        assert os.SCHED_IDLE not in thread_policies(daemon.pid)
        os.kill(first, signal.SIGKILL)
        output.wait_for(rf"the web process {first} exited \((killed by signal 9)\); "
                        r"starting another in 1 s")
        second = int(output.wait_for(r"web pages at \S+ \(process (\d+)\)", count=2)[1])
        assert second != first
        # the daemon kept the listening socket: the same address answers again
        assert httpx.get(base + "/livez", timeout=60).status_code == 200
        assert httpx.get(base + "/", timeout=60).status_code == 200
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=60)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    assert daemon.returncode == 0, "".join(output.lines)
    with pytest.raises(ProcessLookupError):  # stopped with the daemon, not restarted
        os.kill(second, 0)
