"""The small pure parts: access checks, the http: config section, the notify client's
protocol, JSON log lines and progress output."""

from __future__ import annotations

import base64
import io
import json
import logging
import socket
from pathlib import Path

import pytest

from tests.web.archive import write_config
from watcher.config import check_config
from watcher.logformat import JsonFormatter
from watcher.progress import Progress
from watcher.systemd import Notifier
from watcher.web.access import authorized, csrf_ok, is_loopback


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_loopback_addresses() -> None:
    assert all(map(is_loopback, ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "192.168.1.4", "example.org"]))


def test_token_by_bearer_or_basic_password() -> None:
    assert authorized(None, None)
    assert authorized("Bearer s3cret", "s3cret")
    assert authorized(basic("anyone", "s3cret"), "s3cret")
    assert not authorized(None, "s3cret")
    assert not authorized("Bearer wrong", "s3cret")
    assert not authorized(basic("s3cret", "wrong"), "s3cret")
    assert not authorized("Basic !!!", "s3cret")
    assert not authorized("Digest s3cret", "s3cret")


def test_csrf_double_submit() -> None:
    assert csrf_ok("abc", "abc")
    assert not csrf_ok("abc", "abd") and not csrf_ok(None, "abc") and not csrf_ok("abc", "")


def test_http_section(tmp_path: Path) -> None:
    config, problems = check_config(write_config(tmp_path, "http:\n  listen: 127.0.0.1:9090\n"))
    assert not problems and config is not None and config.http is not None
    assert (config.http.host, config.http.port, config.http.token) == ("127.0.0.1", 9090, None)
    config, problems = check_config(write_config(tmp_path))
    assert config is not None and config.http is None  # no section: no server


def test_http_off_loopback_needs_a_token_from_the_environment(tmp_path: Path) -> None:
    path = write_config(tmp_path, "http:\n  listen: 0.0.0.0:8080\n")
    _, problems = check_config(path, environ={})
    assert len(problems) == 1 and "set http.token" in problems[0].message
    assert problems[0].line == 15  # the listen: line
    path = write_config(tmp_path, "http:\n  listen: '[::]:8080'\n  token: ${WEB_TOKEN}\n")
    config, problems = check_config(path, environ={"WEB_TOKEN": "s3cret"})
    assert not problems and config is not None and config.http is not None
    assert (config.http.host, config.http.token) == ("::", "s3cret")
    _, problems = check_config(write_config(tmp_path, "http:\n  listen: 8080\n"))
    assert "is not host:port" in problems[0].message


def test_shipped_config_serves_on_loopback() -> None:
    shipped = Path(__file__).resolve().parents[2] / "config" / "watcher.yaml"
    config, problems = check_config(shipped)
    assert not problems and config is not None and config.http is not None
    assert is_loopback(config.http.host) and config.http.port == 8080


def test_notifier_sends_datagrams_and_never_blocks(tmp_path: Path) -> None:
    path = tmp_path / "notify"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(path))
    try:
        notifier = Notifier({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "4000000"})
        assert notifier.watchdog_seconds == 4.0
        assert notifier.ready("3 feeds")
        assert listener.recv(100) == b"READY=1\nSTATUS=3 feeds"
        # a listener that stops reading: sends fail (queue full) instead of waiting
        results = [notifier.watchdog() for _ in range(2000)]
        assert not all(results)
    finally:
        listener.close()
    assert not Notifier({}).ready()
    assert Notifier({"WATCHDOG_USEC": "100", "WATCHDOG_PID": "1"}).watchdog_seconds is None


def test_notifier_abstract_socket() -> None:
    name = f"watcher-test-{id(object())}"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind("\0" + name)
    try:
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).stopping()
        assert listener.recv(100).startswith(b"STOPPING=1")
    finally:
        listener.close()


def test_json_log_lines() -> None:
    record = logging.LogRecord("watcher.poll", logging.INFO, __file__, 1,
                               "poll feed=%s \"quoted\"\nnext", ("a",), None)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert data["message"] == 'poll feed=a "quoted"\nnext' and data["level"] == "INFO"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("stream", [Terminal(), io.StringIO()], ids=["terminal", "pipe"])
def test_progress_only_on_a_terminal(stream: io.StringIO) -> None:
    with Progress("feeds polled", 3, stream=stream) as progress:
        for _ in range(3):
            progress.advance()
    if stream.isatty():
        assert "feeds polled: 3/3 (100%)" in stream.getvalue()
        assert stream.getvalue().endswith("\r")
    else:
        assert stream.getvalue() == ""


def test_systemd_unit_is_notify_with_a_watchdog() -> None:
    unit = Path(__file__).resolve().parents[2] / "contrib" / "systemd" / "watcher.service"
    settings = dict(line.split("=", 1) for line in unit.read_text().splitlines()
                    if "=" in line and not line.startswith("#"))
    assert settings["Type"] == "notify"
    assert int(settings["WatchdogSec"]) > 0
    assert " run " in settings["ExecStart"] and "--log-format json" in settings["ExecStart"]
    # ProtectHome= hides ~/.cache: the decompressed language model is kept where systemd
    # says (watcher/extract/modelcache.py reads $CACHE_DIRECTORY).
    assert settings["ProtectHome"] == "yes" and settings["CacheDirectory"] == "watcher"


def test_the_pages_socket_turns_nagle_off_for_every_connection() -> None:
    """A response's body follows its headers at once: with Nagle's algorithm on, it waited
    for the client's delayed acknowledgement of the headers, on every request."""
    import asyncio
    import socket

    from watcher.web.server import bind

    listening = bind("127.0.0.1", 0)
    try:
        with socket.create_connection(listening.getsockname()[:2]):
            accepted, _ = listening.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)

                # and asyncio, which serves it, keeps it off (it only does for TCP sockets)
                async def serve() -> int:
                    loop = asyncio.get_running_loop()
                    transport, _ = await loop.connect_accepted_socket(
                        asyncio.Protocol, accepted)
                    value = transport.get_extra_info("socket").getsockopt(
                        socket.IPPROTO_TCP, socket.TCP_NODELAY)
                    transport.abort()
                    return int(value)

                assert asyncio.run(serve())
    finally:
        listening.close()
