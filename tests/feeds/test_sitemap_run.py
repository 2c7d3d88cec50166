"""A ``type: sitemap`` feed in a real ``run --once``: stored like a feed's articles, and a
hostile sitemap beside it fails alone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.newsroom import news_sitemap, serve_seeds, sitemap_index
from tests.support.servers import LocalHTTPServer
from tests.test_end_to_end import server, write_config
from watcher.cli import main

__all__ = ["server"]


def test_sitemap_feed_stores_articles_and_a_bomb_fails_alone(
        tmp_path: Path, server: LocalHTTPServer, capsys: pytest.CaptureFixture[str]) -> None:
    seeds = serve_seeds(server)
    server.route("/robots.txt", f"User-agent: *\nSitemap: {server.url('/news-index.xml')}\n")
    server.route("/news-index.xml", sitemap_index(["/news.xml"], server))
    server.route("/news.xml", news_sitemap(list(seeds.values()), server),
                 content_type="application/xml")
    server.route("/bomb.xml", '<?xml version="1.0"?><!DOCTYPE b [<!ENTITY a "aaaa">]>'
                              "<urlset><url><loc>&a;</loc></url></urlset>")
    config = write_config(tmp_path, server, {}, extra=(
        f"  - name: by-sitemap\n    type: sitemap\n    interval: auto\n"
        f"    url: {server.url('/robots.txt')}\n"
        f"  - name: bomb\n    type: sitemap\n    url: {server.url('/bomb.xml')}\n"))

    assert main(["run", "--once", "--config", str(config)]) == 0
    summary = capsys.readouterr().out
    assert "feeds: 1 ok, 1 failed" in summary
    assert "new entries: 2" in summary
    assert "articles stored: 2" in summary and "mi6-defection: 2" in summary

    assert main(["run", "--once", "--config", str(config)]) == 0
    assert "new entries: 0" in capsys.readouterr().out
    robots = [r for r in server.requests if r.path == "/robots.txt"]
    assert robots[-1].headers.get("if-none-match")
    assert main(["feeds", "--config", str(config)]) == 0
    table = capsys.readouterr().out
    assert "bomb: sitemap has a DOCTYPE declaration" in table
    # The interval in force and why: learned from the two entries' dates (too few yet).
    row = next(line for line in table.splitlines() if line.startswith("by-sitemap"))
    assert re.search(r"\s6h\s+auto: fewer than 3 entries in 14 days\s+-$", row)  # PUSH: none
    bomb = next(line for line in table.splitlines() if line.startswith("bomb "))
    assert "backoff after 2 failed polls" in bomb  # two runs, two failures
