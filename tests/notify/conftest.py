from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from watcher.config import NetworkConfig
from watcher.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.at(f"sqlite:///{tmp_path / 'index.sqlite3'}", tmp_path / "articles") as s:
        yield s


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    from watcher.fetch import build_client

    async with build_client(NetworkConfig(allow=("127.0.0.1",))) as c:
        yield c
