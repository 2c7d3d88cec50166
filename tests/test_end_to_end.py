"""The whole watcher against real local peers: an HTTP server on 127.0.0.1 serving real feed
XML and real article pages, a real SQLite index, real worker processes. Nothing is mocked.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.data import SEEDS
from tests.support.newsroom import atom, rdf, read_seed, rss, serve_corpus, serve_seeds
from tests.support.servers import LocalHTTPServer, Reply, Request
from tests.support.waiting import wait_for
from watcher.cli import main
from watcher.store import Store
from watcher.store.files import FILE_NAME

RULES = """\
rules:
  - name: mi6-defection
    query: 'MI6 AND (defect* OR "door is always open")'
  - name: wagner
    any: [Wagner, Prigozhin]
    none: [opera]
"""


def write_config(folder: Path, server: LocalHTTPServer, feeds: dict[str, str], *,
                 rules: str = RULES, store: str = "matched", extra: str = "") -> Path:
    feed_lines = "".join(f"  - name: {name}\n    url: {server.url(path)}\n"
                         for name, path in feeds.items())
    (folder / "rules.yaml").write_text(rules, encoding="utf-8")
    config = folder / "watcher.yaml"
    config.write_text(f"""\
state_dir: state
rules: rules.yaml
store: {store}
network:
  allow: [127.0.0.1]
  per_host_min_gap: 0
  per_host_concurrency: 8
extract:
  workers: 2
feeds:
{feed_lines}{extra}""", encoding="utf-8")
    return config


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as running:
        yield running


def stored_files(folder: Path) -> dict[str, str]:
    articles = folder / "state" / "articles"
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(articles.iterdir())}


def test_once_stores_matched_articles_in_the_seed_format(
        tmp_path: Path, server: LocalHTTPServer, capsys: pytest.CaptureFixture[str]) -> None:
    seeds = serve_seeds(server)
    corpus = serve_corpus(server, limit=12)
    server.route("/world/rss", rss(list(seeds.values()), server),
                 content_type="application/rss+xml")
    server.route("/world/atom", atom(corpus[:6], server), content_type="application/atom+xml")
    server.route("/world/rdf", rdf(corpus[6:], server), content_type="application/rdf+xml")
    config = write_config(tmp_path, server, {"independent-world": "/world/rss",
                                             "wire": "/world/atom", "rdf": "/world/rdf"})

    assert main(["run", "--once", "--config", str(config)]) == 0
    summary = capsys.readouterr().out
    assert "feeds: 3 ok, 0 failed" in summary
    assert "new entries: 14" in summary
    assert "mi6-defection: 2" in summary

    files = stored_files(tmp_path)
    assert all(FILE_NAME.match(name) for name in files)
    # Both seed stories matched; the stored text is the seed's own layout, line for line.
    for seed_name in seeds:
        seed = read_seed(seed_name)
        stored = [text for text in files.values() if text.startswith(seed.title + "\n")]
        assert len(stored) == 1, seed_name
        expected = "\n".join([seed.title, seed.standfirst, *seed.paragraphs])
        assert stored[0] == expected
    assert (SEEDS / "004_f3f2e1a6f771f557.txt").read_text(encoding="utf-8") in files.values()

    # Second cycle: conditional GETs answer 304, nothing new, nothing fetched or stored twice.
    page_hits = server.hits(seeds["000_d6b5e377e965d76d.txt"].path)
    assert main(["run", "--once", "--config", str(config)]) == 0
    second = capsys.readouterr().out
    assert "new entries: 0" in second and "articles stored: 0" in second
    assert server.hits(seeds["000_d6b5e377e965d76d.txt"].path) == page_hits
    assert stored_files(tmp_path) == files
    feed_requests = [r for r in server.requests if r.path == "/world/rss"]
    assert feed_requests[-1].headers.get("if-none-match")


def test_a_bad_feed_never_stops_the_others(
        tmp_path: Path, server: LocalHTTPServer, capsys: pytest.CaptureFixture[str]) -> None:
    seeds = serve_seeds(server)
    server.route("/good", rss(list(seeds.values()), server),
                 content_type="application/rss+xml")
    # Malformed XML with no entry to rescue (a bozo feed *with* entries is used).
    server.route("/broken", '<?xml version="1.0"?><rss><channel><title>x</title></chan',
                 content_type="application/rss+xml")
    server.route("/page", '<html><head><link rel="alternate" type="application/rss+xml" '
                          'href="/good"></head><body>Hello</body></html>')
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_port = closed.getsockname()[1]
    config = write_config(tmp_path, server, {
        "good": "/good", "missing": "/nothing-here", "broken": "/broken", "page": "/page"},
        extra=f"  - name: dead\n    url: http://127.0.0.1:{dead_port}/feed\n")

    assert main(["run", "--once", "--config", str(config)]) == 0
    summary = capsys.readouterr().out
    assert "feeds: 1 ok, 4 failed" in summary
    assert "articles stored: 2" in summary

    assert main(["feeds", "--config", str(config)]) == 0
    table = capsys.readouterr().out
    rows, errors = table.split("\nerrors:\n")
    lines = {line.split()[0]: line for line in rows.splitlines()[1:]}
    assert "404" in lines["missing"]
    assert "refused" in lines["dead"]
    assert lines["good"].split()[1] == "ok"
    assert all(lines[name].split()[1] == "error" for name in ("missing", "dead", "page"))
    assert f"page: an HTML page, not a feed; the page advertises: {server.url('/good')}" in errors


def test_check_reports_rule_typos_with_positions(
        tmp_path: Path, server: LocalHTTPServer, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, server, {"a": "/a"}, rules="""\
rules:
  - name: mi6
    query: 'MI6 AND (defect*'
  - name: mi6
    quer: x
""")
    assert main(["check", "--config", str(config)]) == 2
    errors = capsys.readouterr().err
    assert f"{tmp_path / 'rules.yaml'}:3:" in errors or "rules.yaml:3:" in errors
    assert "rules.yaml:4:" in errors and "duplicate" in errors
    assert "rules.yaml:5:" in errors and "quer" in errors


def watcher_process(config: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "watcher", *args, "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})


def test_daemon_reloads_rules_and_stops_cleanly_on_sigterm(
        tmp_path: Path, server: LocalHTTPServer) -> None:
    seeds = serve_seeds(server)
    server.route("/rss", rss(list(seeds.values()), server), content_type="application/rss+xml")
    config = write_config(tmp_path, server, {"independent-world": "/rss"})
    daemon = watcher_process(config, "run")
    try:
        articles = tmp_path / "state" / "articles"
        wait_for(lambda: articles.is_dir() and len(list(articles.glob("*.txt"))) == 2)
        # A second daemon on the same state is refused with a clear message.
        second = subprocess.run(
            [sys.executable, "-m", "watcher", "run", "--config", str(config)],
            capture_output=True, text=True, timeout=60)
        assert second.returncode == 1 and "already running" in second.stderr
        (tmp_path / "rules.yaml").write_text("rules:\n  - name: x\n    query: '(MI6'\n")
        # A feed added to the config while running is polled without a restart.
        corpus = serve_corpus(server, limit=2)
        server.route("/more", rss(corpus, server), content_type="application/rss+xml")
        with config.open("a", encoding="utf-8") as handle:
            handle.write(f"  - name: added\n    url: {server.url('/more')}\n")
        wait_for(lambda: all(any(r.path.startswith(item.path) for r in server.requests)
                             for item in corpus))
        time.sleep(1)
        daemon.send_signal(signal.SIGTERM)
        output, _ = daemon.communicate(timeout=20)
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert daemon.returncode == 0, output
    assert "poll feed=independent-world status=ok new=2 stored=2 matched=2" in output
    assert "keeping the last good rules" in output and "rules.yaml:3:" in output
    assert "config reloaded: 2 feeds" in output
    assert "poll feed=added status=ok new=2" in output
    assert "stopped" in output


def test_kill_9_mid_cycle_loses_nothing_and_duplicates_nothing(
        tmp_path: Path, server: LocalHTTPServer) -> None:
    items = serve_corpus(server, limit=40)
    # Slow pages, so the kill lands in the middle of the cycle.
    for item in items:
        page = server.routes[item.path]

        def slow(request: Request, page: object = page) -> Reply:
            time.sleep(0.15)
            assert callable(page)
            reply: Reply = page(request)
            return reply

        server.handle(item.path, slow)
    server.route("/rss", rss(items, server), content_type="application/rss+xml")
    config = write_config(tmp_path, server, {"wire": "/rss"}, store="all",
                          rules="rules:\n  - name: any\n    query: the\n")
    victim = watcher_process(config, "run", "--once")
    articles = tmp_path / "state" / "articles"
    wait_for(lambda: articles.is_dir() and len(list(articles.glob("*.txt"))) >= 5)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)

    finisher = watcher_process(config, "run", "--once")
    output, _ = finisher.communicate(timeout=120)
    assert finisher.returncode == 0, output

    from watcher.config import load_config

    with Store.open(load_config(config)) as store:
        assert store.integrity_ok()
        assert store.article_count() == len(items)
        stored = list(store.recent_articles(since=datetime(2000, 1, 1, tzinfo=UTC)))
    names = sorted(p.name for p in articles.iterdir())
    assert names == sorted(s.file_name for s in stored if s.file_name)
    assert len({s.article.canonical_url for s in stored}) == len(items)
    numbers = sorted(s.number for s in stored)
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
