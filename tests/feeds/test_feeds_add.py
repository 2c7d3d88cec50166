"""``watcher feeds add``: discovery against real local sites (home pages with <link> tags,
articles, well-known paths, robots.txt sitemaps), through the real Fetcher and SSRF guard,
writing a real watcher.yaml whose comments must survive."""

from __future__ import annotations

import io
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.feeds.conftest import config_file
from tests.support.newsroom import atom, news_sitemap, rss, serve_seeds
from tests.support.servers import LocalHTTPServer
from tests.support.waiting import wait_for
from tests.test_end_to_end import watcher_process, write_config
from watcher.cli import main
from watcher.config import load_config

CONFIG = """\
# comments must survive `feeds add`
state_dir: state
rules: rules.yaml
network:
  allow: [127.0.0.1]      # the test site
  per_host_min_gap: 0

feeds:                     # none yet, but the key is here
  - name: existing
    url: https://elsewhere.example/feed   # keep me
"""
JSON_FEED = ('{"version": "https://jsonfeed.org/version/1.1", "title": "Json side", '
             '"items": [{"id": "1", "url": "https://x.example/1", "title": "One", '
             '"date_published": "2026-12-01T10:00:00Z"}]}')


@pytest.fixture(scope="module")
def site() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as running:
        items = list(serve_seeds(running).values())
        running.route("/world/rss", rss(items, running, title="World news"),
                      content_type="application/rss+xml")
        running.route("/world/atom", atom(items, running, title="World (Atom)"),
                      content_type="application/atom+xml")
        running.route("/feed.json", JSON_FEED, content_type="application/feed+json")
        running.route("/", '<!DOCTYPE html><html><head><title>Home</title>'
                           '<link rel="alternate" type="application/rss+xml" href="/world/rss">'
                           '<link rel="alternate" type="application/atom+xml" '
                           'href="/world/atom" title="Atom">'
                           '<link rel="alternate" type="application/rss+xml" href="/gone">'
                           '<link rel="alternate" type="application/feed+json" '
                           'href="/feed.json"></head><body>hi</body></html>',
                      content_type="text/html; charset=utf-8")
        running.route("/article/1", '<html><head><link rel="alternate" '
                                    'type="application/rss+xml" href="../world/rss"></head>'
                                    "<body><p>story</p></body></html>",
                      content_type="text/html")
        yield running


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return config_file(tmp_path, CONFIG)


def run(config: Path, *args: str) -> int:
    return main(["feeds", "add", *args, "--config", str(config)])


def test_the_url_itself_is_a_feed_and_comments_survive(
        site: LocalHTTPServer, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(config, site.url("/world/rss"), "--interval", "5m") == 0
    out = capsys.readouterr().out
    assert "1. rss" in out and "'World news': 2 entries, newest 2026-11-23 07:00 UTC" in out
    text = config.read_text(encoding="utf-8")
    assert text.startswith(CONFIG)  # every byte that was there is still there, in order
    assert text.endswith(f"  - name: world-news\n    url: {site.url('/world/rss')}\n"
                         "    interval: 5m\n")
    feed = load_config(config).feeds[-1]
    assert (feed.name, feed.kind) == ("world-news", "feed")
    # The same feed again is reported, not added twice.
    assert run(config, site.url("/world/rss") + "?utm_source=x") == 0
    assert "already present: world-news" in capsys.readouterr().out
    assert len(load_config(config).feeds) == 2


def test_home_page_links_are_listed_and_the_choice_read_from_stdin(
        site: LocalHTTPServer, config: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("3\n"))
    assert run(config, site.url("/"), "--name", "side-json") == 0
    out = capsys.readouterr().out
    # Only working feeds are offered (the advertised /gone answers 404).
    assert "1. rss" in out and "2. atom" in out and "3. json" in out and "4." not in out
    feeds = load_config(config).feeds
    assert [(f.name, f.url) for f in feeds[1:]] == [("side-json", site.url("/feed.json"))]


def test_all_adds_every_candidate_and_print_changes_nothing(
        site: LocalHTTPServer, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = config.read_text(encoding="utf-8")
    assert run(config, site.url("/"), "--all", "--print", "--interval", "auto") == 0
    out = capsys.readouterr().out
    assert f"feeds:\n  - name: world-news\n    url: {site.url('/world/rss')}\n" \
           "    interval: auto\n" in out
    assert "name: json-side" in out
    assert config.read_text(encoding="utf-8") == before
    assert run(config, site.url("/"), "--all") == 0
    capsys.readouterr()
    assert [f.name for f in load_config(config).feeds] == [
        "existing", "world-news", "world-atom", "json-side"]


def test_an_article_page_leads_to_its_feed(
        site: LocalHTTPServer, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(config, site.url("/article/1"), "--print") == 0
    assert f"url: {site.url('/world/rss')}" in capsys.readouterr().out


def test_well_known_path_then_news_sitemap(
        tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with LocalHTTPServer() as plain:
        items = list(serve_seeds(plain).values())
        plain.route("/", "<html><head><title>No links</title></head><body/></html>",
                    content_type="text/html")
        plain.route("/atom.xml", atom(items, plain), content_type="application/atom+xml")
        assert run(config, plain.url("/"), "--print") == 0
        out = capsys.readouterr().out
        assert "(a well-known path)" in out and f"url: {plain.url('/atom.xml')}" in out

        plain.routes.pop("/atom.xml")
        plain.route("/robots.txt", f"User-agent: *\nSitemap: {plain.url('/news.xml')}\n")
        plain.route("/news.xml", news_sitemap(items, plain), content_type="application/xml")
        assert run(config, plain.url("/"), "--name", "by-sitemap") == 0
        assert "(a news sitemap in robots.txt)" in capsys.readouterr().out
        feed = load_config(config).feeds[-1]
        assert (feed.name, feed.kind, feed.url) == ("by-sitemap", "sitemap",
                                                    plain.url("/news.xml"))

        plain.routes.pop("/robots.txt")
        assert run(config, plain.url("/")) == 1
        err = capsys.readouterr().err
        assert "no feed found" in err and "/rss.xml: HTTP 404" in err


def test_the_ssrf_guard_applies(tmp_path: Path, site: LocalHTTPServer,
                                capsys: pytest.CaptureFixture[str]) -> None:
    guarded = config_file(tmp_path, "state_dir: state\nrules: rules.yaml\n")
    assert run(guarded, site.url("/world/rss")) == 1
    assert "127.0.0.1" in capsys.readouterr().err
    assert "feeds" not in guarded.read_text(encoding="utf-8")


def test_bad_interval_is_refused(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(config, "https://x.example/", "--interval", "often") == 2
    assert "--interval:1: 'often' is not a duration" in capsys.readouterr().err


def test_a_running_daemon_polls_an_added_feed(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    with LocalHTTPServer() as server:
        seeds = serve_seeds(server)
        server.route("/rss", rss(list(seeds.values()), server, title="Daemon side"),
                     content_type="application/rss+xml")
        server.route("/other", rss([], server, title="Already there"),
                     content_type="application/rss+xml")
        config = write_config(tmp_path, server, {"other": "/other"})
        daemon = watcher_process(config, "run")
        try:
            wait_for(lambda: server.hits("/other") >= 1)
            assert run(config, server.url("/rss")) == 0
            assert "added: daemon-side" in capsys.readouterr().out
            wait_for(lambda: server.hits("/rss") >= 2)  # ours, then the daemon's
            time.sleep(1)
            daemon.send_signal(signal.SIGTERM)
            output, _ = daemon.communicate(timeout=30)
        finally:
            if daemon.poll() is None:
                daemon.kill()
    assert "config reloaded: 2 feeds" in output
    assert "poll feed=daemon-side status=ok new=2" in output
