"""The daemon's one source of wall-clock time.

Everything that decides by the time of day (which feeds are due, a digest's slot, an
alert's throttle, when text is forgotten) takes a ``Clock`` from whoever assembled it
(``watcher.runtime``), so tests can run the daemon on a clock of their choosing. Timers
that only measure elapsed time (per-host gaps, poll durations) use ``time.monotonic``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """Now, timezone-aware in UTC."""
    return datetime.now(UTC)
