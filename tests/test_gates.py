"""PriorityGate: at most N holders; the highest priority waiter comes in next, the oldest
among equals; a cancelled waiter never keeps or loses a slot."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.gates import PriorityGate


def _fresh(size: int) -> tuple[PriorityGate, list[str], asyncio.Event]:
    return PriorityGate(size), [], asyncio.Event()


async def _hold(gate: PriorityGate, name: str, priority: int, order: list[str],
                release: asyncio.Event) -> None:
    async with gate.slot(priority):
        order.append(name)
        await release.wait()


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_the_highest_priority_then_the_oldest_comes_in_next() -> None:
    gate, order, release = _fresh(1)
    holders = [asyncio.create_task(_hold(gate, "first", 0, order, release))]
    await _settle()
    for name, priority in [("low-1", 0), ("high-1", 2), ("low-2", 0), ("mid", 1),
                           ("high-2", 2)]:
        holders.append(asyncio.create_task(_hold(gate, name, priority, order, release)))
        await _settle()
    assert order == ["first"] and gate.waiting == 5
    release.set()
    await asyncio.gather(*holders)
    assert order == ["first", "high-1", "high-2", "mid", "low-1", "low-2"]


async def test_never_more_holders_than_its_size() -> None:
    gate, inside, most = PriorityGate(3), 0, 0

    async def work(priority: int) -> None:
        nonlocal inside, most
        async with gate.slot(priority):
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.001)
            inside -= 1

    await asyncio.gather(*(work(i % 4) for i in range(40)))
    assert most == 3 and inside == 0


async def test_a_cancelled_waiter_neither_keeps_nor_loses_a_slot() -> None:
    gate, order, release = _fresh(1)
    first = asyncio.create_task(_hold(gate, "first", 0, order, release))
    await _settle()
    gone = asyncio.create_task(_hold(gate, "gone", 5, order, release))
    later = asyncio.create_task(_hold(gate, "later", 0, order, release))
    await _settle()
    gone.cancel()
    release.set()
    await asyncio.gather(first, later)
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert order == ["first", "later"]
    async with gate.slot():  # the one slot is free again
        pass


async def test_a_waiter_cancelled_as_its_turn_came_passes_the_slot_on() -> None:
    gate, order, release = _fresh(1)
    release.set()
    held = gate.slot()
    await held.__aenter__()
    unlucky = asyncio.create_task(_hold(gate, "unlucky", 1, order, release))
    next_one = asyncio.create_task(_hold(gate, "next", 0, order, release))
    await _settle()
    # Leaving hands the slot to "unlucky"; it is cancelled before it can run to take it.
    await held.__aexit__(None, None, None)
    unlucky.cancel()
    await next_one
    with pytest.raises(asyncio.CancelledError):
        await unlucky
    assert order == ["next"]
    async with gate.slot():
        pass


def test_bad_size() -> None:
    with pytest.raises(ValueError):
        PriorityGate(0)


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 3),
       waiters=st.lists(st.tuples(st.integers(0, 3), st.booleans()), min_size=1, max_size=12))
def test_admission_follows_the_model(size: int, waiters: list[tuple[int, bool]]) -> None:
    """Holders fill the gate, then waiters arrive (some cancelled while they wait); as the
    holders leave one by one, the live waiters come in by priority, then arrival."""

    async def scenario() -> list[int]:
        gate, order, _ = _fresh(size)
        releases: list[asyncio.Event] = []
        holders = []
        for number in range(size):
            releases.append(asyncio.Event())
            holders.append(asyncio.create_task(
                _hold(gate, f"h{number}", 0, [], releases[-1])))
        await _settle()
        tasks = []
        for number, (priority, _) in enumerate(waiters):
            done = asyncio.Event()
            done.set()
            tasks.append(asyncio.create_task(_hold(gate, str(number), priority, order, done)))
            await _settle()
        for task, (_, cancelled) in zip(tasks, waiters, strict=True):
            if cancelled:
                task.cancel()
        await _settle()
        for release in releases:
            release.set()
        await asyncio.gather(*holders, *tasks, return_exceptions=True)
        return [int(name) for name in order]

    expected = [number for number, _ in sorted(
        ((n, p) for n, (p, cancelled) in enumerate(waiters) if not cancelled),
        key=lambda item: (-item[1], item[0]))]
    assert asyncio.run(scenario()) == expected
