"""An article's publication time: which claimed date to believe. Pure.

Pages and feeds claim dates that cannot be publication times: USA Today's JSON-LD says
``0001-01-01T00:00:00Z``, broken feeds give 1900, 1970 or 9999. Such a date would sort the
article out of every ``--since`` window and overflow when a digest converts it to local
time. A claim is believed only inside a plausible window (from 1990 to a day after the page
was fetched); otherwise the next source in ``SOURCE_ORDER`` is asked, and the fetch time is
the last resort, so an article always has a sane date and a recorded ``DateSource``.

Extraction (``extract/metadata.py``, ``extract/page.py``) and feed parsing collect the
claims; ``entrywork.build_article`` decides with ``publication_time``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Literal, NamedTuple, get_args

# Best first: structured metadata the publisher wrote for search engines ("meta" is
# article:published_time and its kin, "opengraph" the og:/pubdate tags after JSON-LD), the
# feed entry's date, the date in the URL's path, htmldate's reading of the page, and the
# time we fetched it.
DateSource = Literal["meta", "json-ld", "opengraph", "feed", "url", "htmldate", "fetched"]
SOURCE_ORDER: tuple[DateSource, ...] = get_args(DateSource)

EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)  # before the web: no news page dates from then
AHEAD = timedelta(days=1)  # time zones and clock skew; anything later is a typo or a filler


class DateClaim(NamedTuple):
    source: DateSource
    value: datetime


def as_utc(value: datetime) -> datetime | None:
    """``value`` as aware UTC (a naive time is taken as UTC); None when it cannot be
    expressed in UTC (``datetime.min`` with a positive offset overflows)."""
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def plausible(value: datetime, fetched: datetime | None = None) -> bool:
    """Whether ``value`` can be a publication time: not before 1990, and not later than a
    day after ``fetched`` (unchecked when the fetch time is not known yet)."""
    moment = as_utc(value)
    if moment is None or moment < EARLIEST:
        return False
    if fetched is None:
        return True
    # moment - AHEAD, not fetched + AHEAD: a fetch time near datetime.max must not overflow.
    return moment - AHEAD <= (as_utc(fetched) or EARLIEST)


def first_plausible(values: Iterable[datetime | None],
                    fetched: datetime | None = None) -> datetime | None:
    """The first of ``values`` that is plausible, as aware UTC."""
    for value in values:
        if value is not None and plausible(value, fetched):
            return as_utc(value)
    return None


def publication_time(claims: Iterable[DateClaim], fetched: datetime) -> DateClaim:
    """The claim to believe: the plausible one from the best source (the earlier claim
    within one source), else the fetch time."""
    rank = {source: i for i, source in enumerate(SOURCE_ORDER)}
    believable = [(rank[c.source], i, c) for i, c in enumerate(claims)
                  if plausible(c.value, fetched)]
    if believable:
        claim = min(believable, key=lambda found: found[:2])[2]
        return DateClaim(claim.source, as_utc(claim.value) or claim.value)
    return DateClaim("fetched", as_utc(fetched) or fetched)


# /2019/11/19/, /2019-11-19/, /20191119/ and /2019/11/19 at the end; the year first, as
# news sites write it. A month or day out of range is not a date (a section id, a page).
_URL_DATE = re.compile(
    r"/((?:19|20)\d\d)([/_-])(0?[1-9]|1[0-2])\2(0?[1-9]|[12]\d|3[01])(?=/|$|[-_.?#])"
    r"|/((?:19|20)\d\d)(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?=/|$|[-_.?#])")


def url_date(url: str) -> datetime | None:
    """The date a news URL's path carries (``/2019/11/19/``), as midnight UTC."""
    found = _URL_DATE.search(url)
    if found is None:
        return None
    groups = found.groups()
    year, month, day = (groups[0], groups[2], groups[3]) if groups[0] else groups[4:7]
    try:
        return datetime(int(year), int(month), int(day), tzinfo=UTC)
    except (TypeError, ValueError):
        return None


__all__ = ["AHEAD", "EARLIEST", "SOURCE_ORDER", "DateClaim", "DateSource", "as_utc",
           "first_plausible", "plausible", "publication_time", "url_date"]
