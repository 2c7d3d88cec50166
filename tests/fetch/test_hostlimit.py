"""HostLimiter: at most K at once per host, a minimum gap between starts, hosts independent."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.support.hostile import Exchange, HostileServer, loopback_resolver, respond
from watcher.config import NetworkConfig
from watcher.fetch import Fetcher, build_client
from watcher.hostlimit import HostLimiter


class Probe:
    """Counts how many holders are inside at once and when each started."""

    def __init__(self) -> None:
        self.inside = 0
        self.most = 0
        self.starts: list[float] = []

    async def hold(self, limiter: HostLimiter, host: str, seconds: float) -> None:
        async with limiter.slot(host):
            self.starts.append(time.monotonic())
            self.inside += 1
            self.most = max(self.most, self.inside)
            await asyncio.sleep(seconds)
            self.inside -= 1


async def test_at_most_k_at_once_per_host() -> None:
    limiter, probe = HostLimiter(2, 0.0), Probe()
    await asyncio.gather(*(probe.hold(limiter, "a.example", 0.05) for _ in range(7)))
    assert probe.most == 2


async def test_minimum_gap_between_starts() -> None:
    limiter, probe = HostLimiter(5, 0.05), Probe()
    before = time.monotonic()
    await asyncio.gather(*(probe.hold(limiter, "a.example", 0.0) for _ in range(5)))
    # The n-th start is reserved n gaps after the first, and never comes early.
    late = [start - before - 0.05 * turn for turn, start in enumerate(probe.starts)]
    assert all(lateness >= -0.005 for lateness in late), late
    # A holder a busy machine woke late pushes the next one back: the gap between real
    # starts holds too.
    gaps = [b - a for a, b in zip(probe.starts, probe.starts[1:], strict=False)]
    assert all(gap >= 0.045 for gap in gaps), gaps


async def test_hosts_do_not_wait_for_each_other() -> None:
    limiter, probe = HostLimiter(1, 1.0), Probe()
    started = time.monotonic()
    await asyncio.gather(*(probe.hold(limiter, f"h{n}.example", 0.0) for n in range(5)))
    assert time.monotonic() - started < 0.5


async def test_host_names_are_compared_case_insensitively() -> None:
    limiter, probe = HostLimiter(1, 0.0), Probe()
    await asyncio.gather(probe.hold(limiter, "Example.COM", 0.05),
                         probe.hold(limiter, "example.com.", 0.05))
    assert probe.most == 1


async def test_a_cancelled_waiter_frees_nothing_it_did_not_hold() -> None:
    limiter, probe = HostLimiter(1, 0.0), Probe()
    holder = asyncio.create_task(probe.hold(limiter, "a", 0.1))
    await asyncio.sleep(0.01)
    waiter = asyncio.create_task(probe.hold(limiter, "a", 0.0))
    await asyncio.sleep(0.01)
    waiter.cancel()
    await asyncio.gather(holder, waiter, return_exceptions=True)
    await probe.hold(limiter, "a", 0.0)  # the slot is free again
    assert probe.most == 1


async def test_idle_hosts_are_forgotten() -> None:
    limiter = HostLimiter(1, 0.0)
    for n in range(2000):
        async with limiter.slot(f"h{n}.example"):
            pass
    assert len(limiter) <= 513


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        HostLimiter(0, 0.0)
    with pytest.raises(ValueError):
        HostLimiter(1, -1.0)


async def test_fetcher_keeps_to_the_limit_on_a_real_server() -> None:
    in_flight = 0
    most = 0

    async def slow(exchange: Exchange) -> None:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.1)
        in_flight -= 1
        await respond(200, b"ok")(exchange)

    network = NetworkConfig(allow=("127.0.0.1",), per_host_concurrency=2, per_host_min_gap=0.0)
    limiter = HostLimiter(network.per_host_concurrency, network.per_host_min_gap)
    with HostileServer({"/slow": slow}) as server:
        async with build_client(network, resolver=loopback_resolver()) as client:
            fetcher = Fetcher(client, network, limiter)
            results = await asyncio.gather(
                *(fetcher.get(server.url("/slow"), max_bytes=10) for _ in range(6)))
    assert [r.content for r in results] == [b"ok"] * 6
    assert most == 2


async def test_waiting_for_a_slot_does_not_count_against_the_deadline() -> None:
    async def slow(exchange: Exchange) -> None:
        await asyncio.sleep(0.4)
        await respond(200, b"ok")(exchange)

    # Each exchange takes 0.4 s of a 0.7 s budget; the third waits 0.8 s for its turn.
    network = NetworkConfig(allow=("127.0.0.1",), total_timeout=0.7)
    limiter = HostLimiter(1, 0.0)
    with HostileServer({"/slow": slow}) as server:
        async with build_client(network, resolver=loopback_resolver()) as client:
            fetcher = Fetcher(client, network, limiter)
            results = await asyncio.gather(
                *(fetcher.get(server.url("/slow"), max_bytes=10) for _ in range(3)))
    assert [r.content for r in results] == [b"ok"] * 3
