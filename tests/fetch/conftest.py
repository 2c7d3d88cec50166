"""Fixtures for the fetch suite: a guarded client allowed to reach 127.0.0.1 only."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.support.hostile import loopback_resolver
from tests.support.servers import LocalHTTPServer
from watcher.config import NetworkConfig
from watcher.fetch import Fetcher, build_client

# Short limits so hostile peers are dealt with in well under a second each.
NETWORK = NetworkConfig(allow=("127.0.0.1",), connect_timeout=1.0, read_timeout=1.0,
                        total_timeout=2.0, max_redirects=5)


@pytest.fixture
def network() -> NetworkConfig:
    return NETWORK


@pytest.fixture(scope="module")
def _module_server() -> Iterator[LocalHTTPServer]:
    # One server per module: stopping one costs half a second (its poll interval).
    with LocalHTTPServer() as running:
        yield running


@pytest.fixture
def server(_module_server: LocalHTTPServer) -> LocalHTTPServer:
    """The module's server with no routes and an empty request log."""
    _module_server.reset()
    return _module_server


@pytest.fixture
async def fetcher(network: NetworkConfig) -> AsyncIterator[Fetcher]:
    async with build_client(network, resolver=loopback_resolver()) as client:
        yield Fetcher(client, network)
