"""Waiting for something a peer or another process does: poll a condition until it holds,
or fail the test with what was awaited once the time is up (never a fixed sleep)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


def wait_for(condition: Callable[[], bool], timeout: float = 60.0, what: str = "a condition",
             *, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting for {what}"
        time.sleep(every)


async def wait_until(condition: Callable[[], bool], timeout: float = 60.0,
                     what: str = "a condition", *, every: float = 0.05) -> None:
    """``wait_for`` without blocking the event loop the awaited work runs on."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting for {what}"
        await asyncio.sleep(every)
