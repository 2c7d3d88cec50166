"""What every test that starts a peer on 127.0.0.1 needs: a free port, and one rule for a
peer that cannot be had here (skip with the reason, or fail when ``.ci/run`` has set
WATCHER_REQUIRE_SERVERS=1, so CI never passes by skipping)."""

from __future__ import annotations

import os
import socket
from typing import NoReturn

import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def servers_required() -> bool:
    return os.environ.get("WATCHER_REQUIRE_SERVERS") == "1"


def unavailable(reason: str) -> NoReturn:
    """Skip the test for ``reason``, or fail it when servers are required."""
    if servers_required():
        pytest.fail(f"WATCHER_REQUIRE_SERVERS=1 but {reason}")
    pytest.skip(reason)
