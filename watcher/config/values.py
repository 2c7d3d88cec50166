"""Turning one YAML value into a typed one: durations, sizes, strings, lists, URLs, zones.

Each ``as_*``/``parse_*`` function takes what the YAML loader produced and returns the typed
value or raises ValueError with a message that completes "``key``: ...". The rules file's
loader uses the same functions, so both files speak alike.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 1000, "kib": 1024, "mb": 10**6, "mib": 1024**2, "gb": 10**9,
               "gib": 1024**3, None: 1}


def parse_duration(value: Any) -> timedelta:
    """``90``, ``"30s"``, ``"15m"``, ``"2h"``, ``"7d"``, ``"1w"`` (bare numbers are seconds)."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 15m, 2h or 7d")
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"'{value}' is not a duration (use e.g. 30s, 15m, 2h, 7d)")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def parse_size(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _SIZE.match(str(value))
    if not match:
        raise ValueError(f"'{value}' is not a size (use e.g. 512KiB, 16MiB)")
    unit = match.group(2).lower() if match.group(2) else None
    return int(float(match.group(1)) * _SIZE_UNITS[unit])


def did_you_mean(word: str, choices: Collection[str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def kind_of(value: Any) -> str:
    """What a YAML value is, in the words of an error message."""
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def as_str(value: Any) -> str:
    if isinstance(value, dict | list | bool):
        raise ValueError(f"expected a string, got {kind_of(value)}")
    return str(value)


def as_upper_str(value: Any) -> str:
    return as_str(value).upper()


def as_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {kind_of(value)}")
    return value


def as_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected a whole number, got {kind_of(value)}")
    return value


def as_positive_int(value: Any) -> int:
    number = as_int(value)
    if number < 1:
        raise ValueError("must be at least 1")
    return number


def as_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {kind_of(value)}")
    return float(value)


def as_str_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        raise ValueError(f"expected a list of strings, got {kind_of(value)}")
    return tuple(str(v) for v in value)


def as_http_url(value: Any) -> str:
    text = as_str(value).strip()
    if not re.match(r"^https?://[^\s/]+", text, re.IGNORECASE):
        raise ValueError(f"'{text}' is not an http(s) URL")
    return text


def as_timezone(value: Any) -> str:
    name = as_str(value)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone '{name}'") from exc
    return name


def as_crontab(value: Any) -> str:
    text = as_str(value)
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(text)
    except ValueError as exc:
        raise ValueError(f"invalid cron schedule '{text}': {exc}") from exc
    return text


def one_of(*choices: str) -> Callable[[Any], str]:
    """A parser accepting exactly ``choices`` (a ``Literal`` field's values)."""
    quoted = [f"'{c}'" for c in choices]
    expected = " or ".join([", ".join(quoted[:-1]), quoted[-1]] if len(quoted) > 1 else quoted)

    def parse(value: Any) -> str:
        text = as_str(value)
        if text not in choices:
            raise ValueError(f"expected {expected}, got '{text}'")
        return text

    return parse


def at_least(minimum: timedelta) -> Callable[[timedelta], str | None]:
    """A check refusing durations shorter than ``minimum``."""
    def check(value: timedelta) -> str | None:
        return f"must be at least {minimum.total_seconds():g}s" if value < minimum else None

    return check
