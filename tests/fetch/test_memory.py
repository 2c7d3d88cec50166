"""Bounded memory under bombs and oversized bodies, measured as peak RSS in a fresh process.

The peers run here; the fetching runs in a child process, so its peak resident size
(ru_maxrss, a high-water mark) reflects only the fetches. Every bomb inflates to 256 MiB:
a reader that decoded it whole would add at least that much.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import brotli
import pytest

from tests.support.hostile import (
    BOMB_SIZE,
    HostileServer,
    brotli_bomb,
    encoded,
    endless_chunked,
    gzip_bomb,
    large_body,
    respond,
    stacked_gzip_bomb,
)

ROOT = Path(__file__).resolve().parents[2]
CAP = 1024 * 1024
FEED_CAP = 16 * 1024 * 1024  # the default max_feed_bytes
# What the fetches may add to the child's peak: the 16 MiB body held once plus its join,
# and allocator slack. A whole bomb would add 256 MiB.
ALLOWED_GROWTH = 64 * 1024 * 1024

CHILD = textwrap.dedent("""
    import asyncio, json, resource, sys
    from watcher.config import NetworkConfig
    from watcher.errors import ResponseTooLargeError
    from watcher.fetch import Fetcher, build_client

    async def main(base, paths):
        network = NetworkConfig(allow=("127.0.0.1",), total_timeout=20.0)
        outcome = {}
        async with build_client(network) as client:
            fetcher = Fetcher(client, network)
            await fetcher.get(base + "/small", max_bytes=1000)  # warm up imports and pools
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            for path, cap in paths:
                try:
                    await fetcher.get(base + path, max_bytes=cap)
                    outcome[path] = "no error"
                except ResponseTooLargeError:
                    outcome[path] = "too large"
            after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(json.dumps({"before": before, "after": after, "outcome": outcome}))

    asyncio.run(main(sys.argv[1], json.loads(sys.argv[2])))
""")


@pytest.fixture(scope="module")
def bomb_server() -> Iterator[HostileServer]:
    gz = gzip_bomb()
    routes = {
        "/small": respond(200, b"<rss/>"),
        "/gzip": encoded(gz, "gzip"),
        "/gzip-chunked": encoded(gz, "gzip", chunked=True),
        "/brotli": encoded(brotli_bomb(), "br"),
        "/stacked": encoded(stacked_gzip_bomb(), "gzip, gzip"),
        "/gzip-br": encoded(brotli.compress(gz), "gzip, br"),
        "/members": encoded(gzip.compress(bytes(1024 * 1024)) * 256, "gzip"),
        "/endless": endless_chunked(),
        "/sixty": large_body(60 * 1024 * 1024, chunked=True),
    }
    with HostileServer(routes) as server:
        yield server


def test_peak_memory_stays_bounded_under_bombs(bomb_server: HostileServer) -> None:
    paths = [(p, CAP) for p in ("/gzip", "/gzip-chunked", "/brotli", "/stacked", "/gzip-br",
                                "/members", "/endless")]
    paths.append(("/sixty", FEED_CAP))
    child = subprocess.run(
        [sys.executable, "-c", CHILD, bomb_server.url(""), json.dumps(paths)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert child.returncode == 0, child.stderr
    report = json.loads(child.stdout)
    assert set(report["outcome"].values()) == {"too large"}, report["outcome"]
    growth = report["after"] - report["before"]
    assert growth < ALLOWED_GROWTH, f"peak RSS grew by {growth / 2**20:.0f} MiB"
    assert ALLOWED_GROWTH < BOMB_SIZE  # the bound means something
