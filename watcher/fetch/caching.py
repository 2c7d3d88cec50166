"""Conditional GET, and what a response's headers tell the poller: when to come back, how
long a copy is fresh, and whether a move was for good.

Pure functions of header values, so the polling policy can be tested without a server.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from watcher.types import Redirect

# A Retry-After beyond this is treated as this: a server must not park a feed for months.
RETRY_AFTER_CAP = 24 * 3600.0


def request_headers(etag: str | None, last_modified: str | None, accept: str | None
                    ) -> dict[str, str]:
    """The headers that make a GET conditional on the copy we hold (and say what we want)."""
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    if accept:
        headers["Accept"] = accept
    return headers


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP date.

    Capped at ``RETRY_AFTER_CAP``; a date in the past gives 0; garbage gives None.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        seconds = float(int(text))
    else:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:  # asctime form carries no zone; HTTP dates are GMT
            when = when.replace(tzinfo=UTC)
        seconds = max(0.0, (when - now).total_seconds())
    return min(seconds, RETRY_AFTER_CAP)


def parse_max_age(cache_control: str | None) -> float | None:
    """``max-age`` from a Cache-Control header, in seconds; None when absent or invalid.

    ``no-store`` / ``no-cache`` give 0: the server asks not to rely on a cached copy.
    """
    if not cache_control:
        return None
    max_age: float | None = None
    no_cache = False
    for directive in cache_control.split(","):
        name, _, argument = directive.strip().partition("=")
        name = name.strip().lower()
        argument = argument.strip().strip('"')
        if name in ("no-store", "no-cache"):
            no_cache = True
        elif name == "max-age" and max_age is None:
            if not argument.isdigit():
                return None  # RFC 9111: an invalid max-age makes the response stale
            max_age = float(int(argument))
    if no_cache:
        return 0.0
    return max_age


def redirect_kind(redirects: tuple[Redirect, ...]) -> str:
    """"permanent" when every hop is 301/308, "temporary" when any is not, "" when none."""
    if not redirects:
        return ""
    return "permanent" if all(r.status in (301, 308) for r in redirects) else "temporary"
