"""The fetch's CPU with httpcore's pool and with ours: ``python bench/bench_fetch.py``.

``Fetcher.get`` fetches the same real article pages (the corpus, each copy distinct) from
``--hosts`` local servers, ``--concurrency`` at a time, as the daemon fetches an entry's
page; the servers run in a process of their own, so the CPU counted is the fetching
process's alone. Each round fetches every page twice, once through httpcore's own
connection pool and once through ``watcher.fetch.pool.LinearPool``, in turn; printed for
each: the CPU per page and the connections opened (medians over ``--rounds``, with the
range), and the ratio of their CPU. The two differ in two ways (fetch/pool.py): httpcore's
bookkeeping grows with the square of the connections the pool holds, and past its
keep-alive allowance it closes every connection once its response is read, so with many
hosts at once it opens a connection a page where ours reuses them.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpcore

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.pools import OpenedConnections  # noqa: E402
from watcher.config import NetworkConfig  # noqa: E402
from watcher.fetch import Fetcher, GuardedTransport, build_client  # noqa: E402
from watcher.fetch.pool import LinearPool  # noqa: E402
from watcher.hostlimit import HostLimiter  # noqa: E402

SERVERS = """
import sys, time
sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[1] + "/bench")
from contextlib import ExitStack
from bench_cycle import distinct_copy
from tests.support.data import corpus_page, ground_truth
from tests.support.servers import LocalHTTPServer
hosts, pages_per_host = int(sys.argv[2]), int(sys.argv[3])
pages = [corpus_page(page_id) for page_id in sorted(ground_truth())]
with ExitStack() as stack:
    for host in range(hosts):
        server = stack.enter_context(LocalHTTPServer())
        for number in range(pages_per_host):
            copy = host * pages_per_host + number
            server.route(f"/a{number}", distinct_copy(pages[copy % len(pages)], copy))
        print(server.port, flush=True)
    time.sleep(3600)
"""
POOLS = {"httpcore": httpcore.AsyncConnectionPool, "linear": LinearPool}


async def fetch_all(urls: list[str], concurrency: int) -> int:
    """Fetch every URL; the number of connections opened."""
    network = NetworkConfig(allow=("127.0.0.1",), per_host_min_gap=0,
                            per_host_concurrency=concurrency)
    async with build_client(network) as client:
        opened = OpenedConnections(client._transport._pool)  # type: ignore[attr-defined]
        fetcher = Fetcher(client, network, HostLimiter(concurrency, 0))
        gate = asyncio.Semaphore(concurrency)

        async def one(url: str) -> None:
            async with gate:
                await fetcher.get(url, max_bytes=10_000_000, accept="text/html")

        await asyncio.gather(*(one(url) for url in urls))
    return opened.count


def cpu_per_page(pool: str, urls: list[str], concurrency: int) -> tuple[float, int]:
    """(CPU seconds a page, connections opened) fetching ``urls`` through ``pool``."""
    GuardedTransport.pool_class = POOLS[pool]
    try:
        started = time.process_time()
        opened = asyncio.run(fetch_all(urls, concurrency))
        return (time.process_time() - started) / len(urls), opened
    finally:
        GuardedTransport.pool_class = LinearPool


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=40)
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    per_host = -(-args.pages // args.hosts)
    servers = subprocess.Popen(
        [sys.executable, "-c", SERVERS, str(ROOT), str(args.hosts), str(per_host)],
        stdout=subprocess.PIPE, text=True)
    assert servers.stdout is not None
    try:
        ports = [int(servers.stdout.readline()) for _ in range(args.hosts)]
        # host after host: the pool holds a connection to every host fetching at once
        urls = [f"http://127.0.0.1:{port}/a{number}"
                for number in range(per_host) for port in ports][:args.pages]
        print(f"{len(urls)} pages from {args.hosts} local servers, {args.concurrency} at a "
              f"time, {args.rounds} rounds")
        for pool in POOLS:  # a warm-up: imports, first connections, the page cache
            cpu_per_page(pool, urls[:100], args.concurrency)
        used: dict[str, list[float]] = {pool: [] for pool in POOLS}
        opened: dict[str, list[int]] = {pool: [] for pool in POOLS}
        for _ in range(args.rounds):
            for pool in POOLS:
                cpu, connections = cpu_per_page(pool, urls, args.concurrency)
                used[pool].append(cpu)
                opened[pool].append(connections)
    finally:
        servers.kill()
        servers.wait()
    for pool, values in used.items():
        print(f"{pool:10} CPU ms/page {statistics.median(values) * 1000:6.3f} "
              f"({min(values) * 1000:.3f}-{max(values) * 1000:.3f}), connections opened "
              f"{statistics.median(opened[pool]):.0f} ({min(opened[pool])}-{max(opened[pool])})")
    ratios = [new / old for new, old in zip(used["linear"], used["httpcore"], strict=True)]
    print(f"linear / httpcore: {statistics.median(ratios):.2f} "
          f"({min(ratios):.2f}-{max(ratios):.2f})")


if __name__ == "__main__":
    main()
