"""Progress of long command-line work (``rules backfill``, a first ``run --once`` over many
feeds): one line redrawn in place on a terminal, nothing at all when the output is piped or
logged, so scripts and log files see only the results."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

REDRAW_SECONDS = 0.2  # at most five redraws a second: a terminal is slow to scroll


class Progress:
    def __init__(self, label: str, total: int | None = None, *,
                 stream: TextIO | None = None) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.shown = self.stream.isatty()
        self._drawn_at = 0.0
        self._width = 0

    def advance(self, steps: int = 1) -> None:
        self.done += steps
        now = time.monotonic()
        if self.shown and (now - self._drawn_at >= REDRAW_SECONDS or self.done == self.total):
            self._drawn_at = now
            self._draw()

    def _draw(self) -> None:
        if self.total:
            text = f"{self.label}: {self.done}/{self.total} ({self.done * 100 // self.total}%)"
        else:
            text = f"{self.label}: {self.done}"
        self.stream.write("\r" + text.ljust(self._width))
        self.stream.flush()
        self._width = len(text)

    def close(self) -> None:
        if self.shown and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
