"""The store's tests run on SQLite and on a real PostgreSQL: one parametrised fixture."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import PostgresServer
from watcher.store import Store
from watcher.store.db import upgrade_index

_databases = itertools.count(1)
TEMPLATE = "watcher_migrated"


def _database_name() -> str:
    return f"t_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{next(_databases)}"


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def index_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty index: a SQLite file, or a new database on the session's PostgreSQL."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'index.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database(_database_name())


@pytest.fixture(scope="session")
def migrated_template(postgres_server: PostgresServer) -> str:
    """A database at the newest schema revision that new test databases are copied from
    (copying is quicker than migrating each one)."""
    upgrade_index(postgres_server.create_database(TEMPLATE))
    return TEMPLATE


@pytest.fixture
def store(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A store with its schema in place (``watcher db upgrade`` on PostgreSQL)."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'index.sqlite3'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = server.create_database(_database_name(),
                                     template=request.getfixturevalue("migrated_template"))
    with Store.at(url, tmp_path / "articles") as opened:
        yield opened
