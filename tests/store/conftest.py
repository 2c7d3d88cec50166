"""The store's tests run on SQLite and on a real PostgreSQL: one parametrised fixture."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import PostgresServer
from watcher.store import Store
from watcher.store.engine import create_index_engine
from watcher.store.migrate import PACKAGED

_databases = itertools.count(1)


@pytest.fixture(params=["sqlite", "postgresql"])
def index_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty index: a SQLite file, or a new database on the session's PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'index.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return server.create_database(f"t_{worker}_{next(_databases)}")


@pytest.fixture
def store(index_url: str, tmp_path: Path) -> Iterator[Store]:
    """A store on ``index_url`` with its schema created (``watcher db upgrade``)."""
    engine = create_index_engine(index_url)
    try:
        PACKAGED.upgrade(engine)
    finally:
        engine.dispose()
    with Store.at(index_url, tmp_path / "articles") as opened:
        yield opened
