"""The whole watcher on a PostgreSQL index: refused until ``watcher db upgrade``, then the
same articles, files and numbers as on SQLite, and a second cycle stores nothing twice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.newsroom import rss, serve_seeds
from tests.support.postgres import PostgresServer
from tests.support.servers import LocalHTTPServer
from tests.test_end_to_end import stored_files, write_config
from watcher.cli import main
from watcher.config import load_config
from watcher.store import Store


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as running:
        yield running


def test_run_once_on_postgresql(tmp_path: Path, server: LocalHTTPServer,
                                postgres_server: PostgresServer,
                                monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    seeds = serve_seeds(server)
    server.route("/world/rss", rss(list(seeds.values()), server),
                 content_type="application/rss+xml")
    config = write_config(tmp_path, server, {"independent-world": "/world/rss"},
                          extra="index: ${WATCHER_INDEX_URL}\n")
    monkeypatch.setenv("WATCHER_INDEX_URL", postgres_server.create_database("daemon"))

    assert main(["run", "--once", "--config", str(config)]) == 1
    assert "run `watcher db upgrade` first" in capsys.readouterr().err
    assert not (tmp_path / "state" / "index.sqlite3").exists()

    assert main(["db", "upgrade", "--config", str(config)]) == 0
    assert main(["run", "--once", "--config", str(config)]) == 0
    summary = capsys.readouterr().out
    assert "feeds: 1 ok, 0 failed" in summary and "mi6-defection: 2" in summary
    files = stored_files(tmp_path)
    assert sorted(name[:4] for name in files) == ["001_", "002_"]

    assert main(["run", "--once", "--config", str(config)]) == 0
    assert "articles stored: 0" in capsys.readouterr().out
    assert stored_files(tmp_path) == files
    with Store.open(load_config(config)) as store:
        assert store.article_count() == len(seeds)
        assert not (tmp_path / "state" / "index.sqlite3").exists()
