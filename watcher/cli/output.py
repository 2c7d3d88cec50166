"""Plain-text output helpers shared by the commands."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
              for row in rows]
    return "\n".join(lines)


def when(moment: datetime | None, now: datetime | None = None) -> str:
    """A short, relative time: '3m ago', 'in 2h', '-'."""
    if moment is None:
        return "-"
    now = now or datetime.now(UTC)
    delta = moment - now
    amount = duration(abs(delta))
    return f"in {amount}" if delta > timedelta(0) else f"{amount} ago"


def duration(span: timedelta) -> str:
    """A short length of time in its largest unit: '3m', '2h', '45s'."""
    seconds = span.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def shorten(text: str | None, width: int = 60) -> str:
    if not text:
        return "-"
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
