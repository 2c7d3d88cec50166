"""The fault-injection suite at the level of a whole cycle: hostile peers on loopback serve
some feeds, a well-behaved server serves another, and a real ``watcher run --once`` runs in
its own process. Every hostile feed ends with its reason recorded, the good feed's articles
are stored, the process's memory stays bounded and nothing reaches a guarded address.
(The per-request details of each attack are tested in tests/fetch/ and tests/feeds/.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.feeds.hostile_feeds import author_redos, billion_laughs, external_entity
from tests.support.hostile import (
    ConnectionRecorder,
    HostileServer,
    brotli_bomb,
    drip,
    encoded,
    gzip_bomb,
    large_body,
    redirect,
    reset_mid_body,
    respond,
    short_body,
    stacked_gzip_bomb,
    stall,
)
from tests.support.newsroom import rss, serve_seeds
from tests.support.servers import LocalHTTPServer
from watcher.config import load_config
from watcher.store import Store

FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><title>Fine</title><link>http://127.0.0.1:1/x</link><guid>g1</guid></item>
</channel></rss>"""
HTML = b"""<html><head><link rel="alternate" type="application/atom+xml" href="/real.atom">
</head><body>not a feed</body></html>"""


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HostileServer, Path]]:
    sentinel = tmp_path_factory.mktemp("secret") / "sentinel.txt"
    sentinel.write_text("SENTINEL-MUST-NEVER-BE-READ")
    with ConnectionRecorder("127.0.0.2") as internal, HostileServer() as server:
        routes = {
            "/drip": drip(FEED, interval=0.5),
            "/stall": stall(),
            "/reset": reset_mid_body(FEED * 50, after=100),
            "/short": short_body(FEED, claimed=len(FEED) + 500),
            "/gzip-bomb": encoded(gzip_bomb(), "gzip"),
            "/brotli-bomb": encoded(brotli_bomb(), "br"),
            "/stacked-bomb": encoded(stacked_gzip_bomb(), "gzip, gzip"),
            "/huge": large_body(60 * 1024 * 1024),
            "/laughs": respond(200, billion_laughs(), {"Content-Type": "application/rss+xml"}),
            "/xxe": respond(200, external_entity(f"file://{sentinel}"),
                            {"Content-Type": "application/rss+xml"}),
            "/redos": respond(200, author_redos(300_000),
                              {"Content-Type": "application/rss+xml"}),
            "/to-internal": redirect(302, f"http://127.0.0.2:{internal.port}/feed"),
            "/decimal-loopback": redirect(302, f"http://2130706434:{internal.port}/feed"),
            "/slow-down": respond(429, b"", {"Retry-After": "7200"}),
            "/gone": respond(410),
            "/html": respond(200, HTML, {"Content-Type": "text/html"}),
        }
        for path, behaviour in routes.items():
            server.route(path, behaviour)
        server.internal = internal  # type: ignore[attr-defined]
        yield server, sentinel


def run_once(config: Path) -> tuple[str, float]:
    """(output, peak RSS in MiB of the watcher process itself) of ``watcher run --once``.

    The peak is the process's own high-water mark (``VmHWM``), read until it exits. Its
    ``ru_maxrss`` would not do: Linux carries the forking process's high-water mark across
    ``exec``, so it reports at least what this pytest worker had grown to.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "watcher", "run", "--once", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    peak_kib = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak_kib
        status = Path(f"/proc/{process.pid}/status")
        while not done.wait(0.02):
            try:
                lines = status.read_text().splitlines()
            except OSError:
                return
            for line in lines:
                if line.startswith("VmHWM:"):
                    peak_kib = max(peak_kib, int(line.split()[1]))

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        output, _ = process.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    finally:
        done.set()
        sampler.join()
    assert process.returncode == 0, output
    assert peak_kib, "the watcher's memory was never read"
    return output, peak_kib / 1024


def test_hostile_feeds_fail_alone_and_bounded(
        tmp_path: Path, hostile: tuple[HostileServer, Path]) -> None:
    server, sentinel = hostile
    with LocalHTTPServer() as good:
        seeds = serve_seeds(good)
        good.route("/good", rss(list(seeds.values()), good), content_type="application/rss+xml")
        feeds = {name: server.url(path) for name, path in [
            ("drip", "/drip"), ("stall", "/stall"), ("reset", "/reset"), ("short", "/short"),
            ("gzip-bomb", "/gzip-bomb"), ("brotli-bomb", "/brotli-bomb"),
            ("stacked-bomb", "/stacked-bomb"), ("huge", "/huge"), ("laughs", "/laughs"),
            ("xxe", "/xxe"), ("redos", "/redos"), ("to-internal", "/to-internal"),
            ("decimal-loopback", "/decimal-loopback"), ("slow-down", "/slow-down"),
            ("gone", "/gone"), ("html", "/html")]}
        feeds["good"] = good.url("/good")
        (tmp_path / "rules.yaml").write_text("rules:\n  - name: mi6\n    query: MI6\n")
        config = tmp_path / "watcher.yaml"
        config.write_text(
            "state_dir: state\nrules: rules.yaml\n"
            "network:\n  allow: ['127.0.0.1']\n  total_timeout: 3\n  read_timeout: 2\n"
            "  per_host_min_gap: 0\n  per_host_concurrency: 20\n"
            "poll:\n  concurrency: 20\nfeeds:\n"
            + "".join(f"  - name: {n}\n    url: {u}\n" for n, u in feeds.items()))
        started = datetime.now(UTC)
        output, peak_mib = run_once(config)

    assert "feeds: 4 ok, 13 failed" in output, output
    assert "articles matched: 2" in output  # the two seed stories of the good feed
    # The bombs inflate to 256 MiB each and the big feed is 60 MB: none of it was held.
    assert peak_mib < 400, f"watcher process peaked at {peak_mib:.0f} MiB"
    assert server.internal.connections == 0  # type: ignore[attr-defined]

    with Store.open(load_config(config)) as store:
        states = store.feed_states()
    reasons = {name: (state.last_error or "") for name, state in states.items()}
    expected = {
        "drip": "timed out", "stall": "timed out", "reset": "reset",
        "short": "closed before", "gzip-bomb": "larger than", "brotli-bomb": "larger than",
        "stacked-bomb": "larger than", "huge": "larger than", "to-internal": "127.0.0.2",
        "decimal-loopback": "127.0.0.2", "slow-down": "429", "gone": "410",
        "html": "/real.atom"}
    for name, fragment in expected.items():
        assert fragment in reasons[name], (name, reasons[name])
    assert states["good"].status == "ok"
    for harmless in ("laughs", "xxe", "redos"):  # parsed safely, entries or not
        assert states[harmless].status != "gone"
    assert states["gone"].status == "gone" and states["gone"].next_poll is None
    retry = states["slow-down"].next_poll
    assert retry is not None and retry >= started + timedelta(seconds=7200)
    # The external entity was never resolved: the sentinel's text is nowhere in the state.
    secret = sentinel.read_bytes()
    state_files = [p for p in (tmp_path / "state").rglob("*") if p.is_file()]
    assert state_files and not any(secret in p.read_bytes() for p in state_files)


def test_permanent_moves_follow_and_temporary_ones_do_not(tmp_path: Path) -> None:
    with LocalHTTPServer() as site:
        seeds = serve_seeds(site)
        site.route("/new-home", rss(list(seeds.values())[:1], site),
                   content_type="application/rss+xml")
        site.route("/elsewhere", rss(list(seeds.values())[1:], site),
                   content_type="application/rss+xml")
        site.route("/old", b"", status=301, headers={"Location": "/new-home"}, etag=False)
        site.route("/temp", b"", status=302, headers={"Location": "/elsewhere"}, etag=False)
        (tmp_path / "rules.yaml").write_text("rules:\n  - name: mi6\n    query: MI6\n")
        config = tmp_path / "watcher.yaml"
        config.write_text(
            "state_dir: state\nrules: rules.yaml\nnetwork:\n  allow: ['127.0.0.1']\n"
            f"feeds:\n  - name: moved\n    url: {site.url('/old')}\n"
            f"  - name: temporary\n    url: {site.url('/temp')}\n")
        run_once(config)
        with Store.open(load_config(config)) as store:
            states = store.feed_states()
        assert states["moved"].url == site.url("/new-home")
        assert states["moved"].notice and "moved permanently" in states["moved"].notice
        assert states["temporary"].url == site.url("/temp")

        run_once(config)
        # The next poll goes straight to the new address, conditionally.
        assert site.hits("/old") == 1
        assert site.hits("/new-home") == 2
        assert site.requests[-1].headers.get("if-none-match") or any(
            r.path == "/new-home" and r.headers.get("if-none-match") for r in site.requests)
