"""The pure helpers beside the I/O, table-driven."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from watcher.fetch import RETRY_AFTER_CAP, parse_max_age, parse_retry_after, redirect_kind
from watcher.types import Redirect

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("value, expected", [
    ("120", 120.0),
    ("0", 0.0),
    (" 7 ", 7.0),
    ("Wed, 01 May 2024 12:00:10 GMT", 10.0),
    ("Wednesday, 01-May-24 12:01:00 GMT", 60.0),
    ("Wed May  1 13:00:00 2024", 3600.0),
    ("Wed, 01 May 2024 11:00:00 GMT", 0.0),  # past
    ("Thu, 01 May 2025 12:00:00 GMT", RETRY_AFTER_CAP),  # a year: capped
    (str(10**12), RETRY_AFTER_CAP),
    ("1.5", None),
    ("-1", None),
    ("tomorrow", None),
    ("", None),
    (None, None),
    ("Wed, 99 May 2024 12:00:00 GMT", None),
])
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize("value, expected", [
    ("max-age=300", 300.0),
    ("public, max-age=60, must-revalidate", 60.0),
    ("Max-Age=60", 60.0),
    ('max-age="90"', 90.0),
    ("s-maxage=100", None),  # for shared caches; we are a private client
    ("max-age=10, max-age=20", 10.0),
    ("no-cache", 0.0),
    ("no-store, max-age=300", 0.0),
    ("max-age=-1", None),
    ("max-age=abc", None),
    ("private", None),
    ("", None),
    (None, None),
])
def test_parse_max_age(value: str | None, expected: float | None) -> None:
    assert parse_max_age(value) == expected


@pytest.mark.parametrize("statuses, kind", [
    ((), ""), ((301,), "permanent"), ((308, 301), "permanent"), ((302,), "temporary"),
    ((301, 307), "temporary"), ((303,), "temporary"),
])
def test_redirect_kind(statuses: tuple[int, ...], kind: str) -> None:
    hops = tuple(Redirect(s, f"http://a/{i}", f"http://a/{i + 1}")
                 for i, s in enumerate(statuses))
    assert redirect_kind(hops) == kind
