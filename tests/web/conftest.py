from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.web.archive import Archive, build_archive
from watcher.web.app import create_app
from watcher.web.context import WebContext
from watcher.web.server import WebServer


@dataclass(frozen=True)
class Site:
    archive: Archive
    url: str
    context: WebContext  # the app's, to look at its caches


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    built = build_archive(tmp_path)
    yield built
    built.store.close()


@pytest.fixture
def site(archive: Archive) -> Iterator[Site]:
    """The web app over the archive, served by uvicorn on a free port of 127.0.0.1."""
    app = create_app(archive.store, lambda: archive.rules, archive.config)
    # These tests look at a page right after changing the index; the marker's own
    # freshness is tested in test_cache.py.
    app.state.context.marker_fresh = 0.0
    with WebServer(app, "127.0.0.1", 0) as server:
        yield Site(archive, server.url, app.state.context)
