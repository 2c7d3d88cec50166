"""watcher.yaml: loading, validation with ``file:line:col`` problems, and the frozen Config.

Relative paths resolve against the config file's folder. Unknown keys, wrong types,
duplicate names and missing ``${VAR}`` are all reported together, never one at a time.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from watcher.errors import ConfigError, Problem
from watcher.yamlpos import YamlDoc, YamlPath, load_yaml

DEFAULT_CONFIG = Path("config/watcher.yaml")
CONFIG_ENV = "WATCHER_CONFIG"
USER_AGENT = "watcher/0.1 (self-hosted news watcher; feed reader)"

T = TypeVar("T")


@dataclass(frozen=True)
class FeedConfig:
    name: str
    url: str
    interval: timedelta
    enabled: bool = True


@dataclass(frozen=True)
class PollConfig:
    interval: timedelta = timedelta(minutes=15)
    jitter: float = 0.1  # fraction of the interval added at random, spreads polls out
    max_entries: int = 100  # entries taken from one feed in one poll
    concurrency: int = 8  # feeds polled at once
    max_backoff: timedelta = timedelta(hours=6)
    failing_after: int = 5  # consecutive failures before the user is told


@dataclass(frozen=True)
class NetworkConfig:
    allow: tuple[str, ...] = ()  # addresses, CIDR ranges or host names the SSRF guard lets by
    user_agent: str = USER_AGENT
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0  # whole request, headers to last byte
    max_feed_bytes: int = 16 * 1024 * 1024
    max_page_bytes: int = 8 * 1024 * 1024
    max_redirects: int = 5
    per_host_concurrency: int = 2
    per_host_min_gap: float = 0.5  # seconds between request starts to one host


@dataclass(frozen=True)
class ExtractConfig:
    workers: int = 0  # 0: one per core
    timeout: float = 20.0  # seconds per page; a worker past it is killed and replaced
    # distinct articles of one site that must share a paragraph before it counts as boilerplate
    boilerplate_min_articles: int = 3
    boilerplate_window: timedelta = timedelta(days=30)


@dataclass(frozen=True)
class EmailChannel:
    name: str
    smtp: str  # smtp://host:25, smtp+starttls://user:pass@host:587, smtps://host:465
    sender: str
    to: tuple[str, ...]
    type: Literal["email"] = "email"


@dataclass(frozen=True)
class SlackChannel:
    name: str
    webhook: str
    type: Literal["slack"] = "slack"


@dataclass(frozen=True)
class FileChannel:
    name: str
    dir: Path
    type: Literal["file"] = "file"


@dataclass(frozen=True)
class AppriseChannel:
    name: str
    urls: tuple[str, ...]
    type: Literal["apprise"] = "apprise"


ChannelConfig = EmailChannel | SlackChannel | FileChannel | AppriseChannel


@dataclass(frozen=True)
class DigestConfig:
    name: str
    schedule: str  # crontab, five fields
    timezone: str = "UTC"
    channels: tuple[str, ...] = ()
    rules: tuple[str, ...] | None = None  # None: every rule
    min_items: int = 1
    send_empty: bool = False
    include_alerted: bool = False  # repeat items already sent as immediate alerts


@dataclass(frozen=True)
class AlertConfig:
    channels: tuple[str, ...] = ()  # default channels for `alert: immediate` rules
    throttle: timedelta = timedelta(minutes=10)  # at most one message per rule per window


@dataclass(frozen=True)
class Config:
    path: Path
    state_dir: Path
    rules_path: Path
    store: Literal["matched", "all"] = "matched"
    keep_text: timedelta = timedelta(days=30)  # text of unmatched articles kept for `rules test`
    log_level: str = "INFO"
    poll: PollConfig = field(default_factory=PollConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    feeds: tuple[FeedConfig, ...] = ()
    channels: tuple[ChannelConfig, ...] = ()
    digests: tuple[DigestConfig, ...] = ()
    alerts: AlertConfig = field(default_factory=AlertConfig)

    @property
    def articles_dir(self) -> Path:
        return self.state_dir / "articles"

    @property
    def index_path(self) -> Path:
        return self.state_dir / "index.sqlite3"

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.index_path}"

    def channel(self, name: str) -> ChannelConfig | None:
        return next((c for c in self.channels if c.name == name), None)


# ---------------------------------------------------------------------------------------------
# Value parsing

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


def did_you_mean(word: str, choices: list[str] | set[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


# ---------------------------------------------------------------------------------------------
# A small validating reader over a YamlDoc


class Section:
    """Typed access to one mapping in a YAML document, recording problems as it goes."""

    def __init__(self, doc: YamlDoc, path: YamlPath, allowed: set[str]) -> None:
        self.doc = doc
        self.path = path
        value = _at(doc.data, path)
        if value is None:
            value = {}
        if not isinstance(value, dict):
            doc.problem(path, f"expected a mapping, got {_kind(value)}")
            value = {}
        self.data: dict[str, Any] = value
        for key in value:
            if key not in allowed:
                doc.problem((*path, key), f"unknown key '{key}'{did_you_mean(key, allowed)}",
                            key=True)

    def has(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str, convert: Callable[[Any], T], default: T) -> T:
        if key not in self.data or self.data[key] is None:
            return default
        try:
            return convert(self.data[key])
        except (ValueError, TypeError) as exc:
            self.doc.problem((*self.path, key), f"{key}: {exc}")
            return default

    def require(self, key: str, convert: Callable[[Any], T], default: T) -> T:
        if key not in self.data or self.data[key] in (None, ""):
            self.doc.problem(self.path, f"missing required key '{key}'")
            return default
        return self.get(key, convert, default)

    def items(self, key: str) -> list[YamlPath]:
        """Paths of the entries of a list-valued key."""
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.doc.problem((*self.path, key), f"{key}: expected a list, got {_kind(value)}")
            return []
        return [(*self.path, key, index) for index in range(len(value))]


def _at(data: Any, path: YamlPath) -> Any:
    for step in path:
        if isinstance(data, dict) and isinstance(step, str):
            data = data.get(step)
        elif isinstance(data, list) and isinstance(step, int) and step < len(data):
            data = data[step]
        else:
            return None
    return data


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def as_str(value: Any) -> str:
    if isinstance(value, dict | list | bool):
        raise ValueError(f"expected a string, got {_kind(value)}")
    return str(value)


def as_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {_kind(value)}")
    return value


def as_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected a whole number, got {_kind(value)}")
    return value


def as_positive_int(value: Any) -> int:
    number = as_int(value)
    if number < 1:
        raise ValueError("must be at least 1")
    return number


def as_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {_kind(value)}")
    return float(value)


def as_str_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        raise ValueError(f"expected a list of strings, got {_kind(value)}")
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


# ---------------------------------------------------------------------------------------------
# The document

_TOP_KEYS = {"state_dir", "rules", "store", "keep_text", "log_level", "poll", "network",
             "extract", "feeds", "channels", "digests", "alerts"}
_POLL_KEYS = {"interval", "jitter", "max_entries", "concurrency", "max_backoff", "failing_after"}
_NETWORK_KEYS = {"allow", "user_agent", "connect_timeout", "read_timeout", "total_timeout",
                 "max_feed_bytes", "max_page_bytes", "max_redirects", "per_host_concurrency",
                 "per_host_min_gap"}
_EXTRACT_KEYS = {"workers", "timeout", "boilerplate_min_articles", "boilerplate_window"}
_FEED_KEYS = {"name", "url", "interval", "enabled"}
_CHANNEL_KEYS = {
    "email": {"name", "type", "smtp", "from", "to"},
    "slack": {"name", "type", "webhook"},
    "file": {"name", "type", "dir"},
    "apprise": {"name", "type", "url", "urls"},
}
_DIGEST_KEYS = {"name", "schedule", "timezone", "channels", "rules", "min_items", "send_empty",
                "include_alerted"}
_ALERT_KEYS = {"channels", "throttle"}


def resolve_config_path(cli_value: str | None, environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(cli_value or env.get(CONFIG_ENV) or DEFAULT_CONFIG)


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> Config:
    """Load and validate watcher.yaml; raises ConfigError listing every problem."""
    config, problems = check_config(path, environ)
    if problems or config is None:
        raise ConfigError(problems)
    return config


def check_config(path: Path, environ: Mapping[str, str] | None = None
                 ) -> tuple[Config | None, list[Problem]]:
    doc = load_yaml(path, display_name=str(path), environ=environ)
    if doc.data is None:
        return None, doc.problems
    base = path.resolve().parent
    top = Section(doc, (), _TOP_KEYS)

    def relative(value: Any) -> Path:
        candidate = Path(as_str(value)).expanduser()
        return candidate if candidate.is_absolute() else (base / candidate).resolve()

    store_mode = top.get("store", as_str, "matched")
    if store_mode not in ("matched", "all"):
        doc.problem(("store",), f"store: expected 'matched' or 'all', got '{store_mode}'")
        store_mode = "matched"

    poll = _poll(Section(doc, ("poll",), _POLL_KEYS))
    config = Config(
        path=path.resolve(),
        state_dir=top.get("state_dir", relative, (base / "../state").resolve()),
        rules_path=top.get("rules", relative, base / "rules.yaml"),
        store="all" if store_mode == "all" else "matched",
        keep_text=top.get("keep_text", parse_duration, timedelta(days=30)),
        log_level=top.get("log_level", as_str, "INFO").upper(),
        poll=poll,
        network=_network(Section(doc, ("network",), _NETWORK_KEYS)),
        extract=_extract(Section(doc, ("extract",), _EXTRACT_KEYS)),
        feeds=_feeds(doc, top, poll),
        channels=_channels(doc, top, relative),
        digests=_digests(doc, top),
        alerts=_alerts(Section(doc, ("alerts",), _ALERT_KEYS)),
    )
    _check_references(doc, config)
    return config, doc.problems


def _poll(s: Section) -> PollConfig:
    d = PollConfig()
    return PollConfig(
        interval=s.get("interval", parse_duration, d.interval),
        jitter=s.get("jitter", as_float, d.jitter),
        max_entries=s.get("max_entries", as_positive_int, d.max_entries),
        concurrency=s.get("concurrency", as_positive_int, d.concurrency),
        max_backoff=s.get("max_backoff", parse_duration, d.max_backoff),
        failing_after=s.get("failing_after", as_positive_int, d.failing_after),
    )


def _network(s: Section) -> NetworkConfig:
    d = NetworkConfig()
    return NetworkConfig(
        allow=s.get("allow", as_str_list, d.allow),
        user_agent=s.get("user_agent", as_str, d.user_agent),
        connect_timeout=s.get("connect_timeout", as_float, d.connect_timeout),
        read_timeout=s.get("read_timeout", as_float, d.read_timeout),
        total_timeout=s.get("total_timeout", as_float, d.total_timeout),
        max_feed_bytes=s.get("max_feed_bytes", parse_size, d.max_feed_bytes),
        max_page_bytes=s.get("max_page_bytes", parse_size, d.max_page_bytes),
        max_redirects=s.get("max_redirects", as_int, d.max_redirects),
        per_host_concurrency=s.get("per_host_concurrency", as_positive_int,
                                   d.per_host_concurrency),
        per_host_min_gap=s.get("per_host_min_gap", as_float, d.per_host_min_gap),
    )


def _extract(s: Section) -> ExtractConfig:
    d = ExtractConfig()
    return ExtractConfig(
        workers=s.get("workers", as_int, d.workers),
        timeout=s.get("timeout", as_float, d.timeout),
        boilerplate_min_articles=s.get("boilerplate_min_articles", as_positive_int,
                                       d.boilerplate_min_articles),
        boilerplate_window=s.get("boilerplate_window", parse_duration, d.boilerplate_window),
    )


def _unique_name(doc: YamlDoc, path: YamlPath, s: Section, seen: dict[str, YamlPath],
                 what: str) -> str:
    name = s.require("name", as_str, "")
    if name and name in seen:
        line, _ = doc.where(seen[name])
        doc.problem((*path, "name"),
                    f"duplicate {what} name '{name}' (first defined on line {line})")
    elif name:
        seen[name] = (*path, "name")
    return name


def _feeds(doc: YamlDoc, top: Section, poll: PollConfig) -> tuple[FeedConfig, ...]:
    feeds: list[FeedConfig] = []
    names: dict[str, YamlPath] = {}
    urls: dict[str, YamlPath] = {}
    for path in top.items("feeds"):
        s = Section(doc, path, _FEED_KEYS)
        name = _unique_name(doc, path, s, names, "feed")
        url = s.require("url", as_http_url, "")
        if url and url in urls:
            line, _ = doc.where(urls[url])
            doc.problem((*path, "url"), f"duplicate feed url (also on line {line})")
        elif url:
            urls[url] = (*path, "url")
        interval = s.get("interval", parse_duration, poll.interval)
        if interval < timedelta(seconds=30):
            doc.problem((*path, "interval"), "interval: must be at least 30s")
        feeds.append(FeedConfig(name=name, url=url, interval=interval,
                                enabled=s.get("enabled", as_bool, True)))
    return tuple(feeds)


def _channels(doc: YamlDoc, top: Section, relative: Callable[[Any], Path]
              ) -> tuple[ChannelConfig, ...]:
    channels: list[ChannelConfig] = []
    names: dict[str, YamlPath] = {}
    for path in top.items("channels"):
        raw = _at(doc.data, path)
        kind = raw.get("type") if isinstance(raw, dict) else None
        if kind not in _CHANNEL_KEYS:
            types = sorted(_CHANNEL_KEYS)
            message = (f"channel type must be one of: {', '.join(types)}" if kind is None else
                       f"unknown channel type '{kind}'{did_you_mean(str(kind), types)}")
            doc.problem((*path, "type") if kind is not None else path, message)
            Section(doc, path, set().union(*_CHANNEL_KEYS.values()))
            continue
        s = Section(doc, path, _CHANNEL_KEYS[kind])
        name = _unique_name(doc, path, s, names, "channel")
        if kind == "email":
            channels.append(EmailChannel(name=name, smtp=s.require("smtp", as_str, ""),
                                         sender=s.require("from", as_str, ""),
                                         to=s.require("to", as_str_list, ())))
        elif kind == "slack":
            channels.append(SlackChannel(name=name, webhook=s.require("webhook", as_str, "")))
        elif kind == "file":
            channels.append(FileChannel(name=name, dir=s.require("dir", relative, Path("."))))
        else:
            none: tuple[str, ...] = ()
            urls = s.get("urls", as_str_list, none) + s.get("url", as_str_list, none)
            if not urls:
                doc.problem(path, "missing required key 'url'")
            channels.append(AppriseChannel(name=name, urls=urls))
    return tuple(channels)


def _digests(doc: YamlDoc, top: Section) -> tuple[DigestConfig, ...]:
    digests: list[DigestConfig] = []
    names: dict[str, YamlPath] = {}
    for path in top.items("digests"):
        s = Section(doc, path, _DIGEST_KEYS)
        no_rules: tuple[str, ...] = ()
        rules = s.get("rules", as_str_list, no_rules)
        digests.append(DigestConfig(
            name=_unique_name(doc, path, s, names, "digest"),
            schedule=s.require("schedule", as_crontab, "0 7 * * *"),
            timezone=s.get("timezone", as_timezone, "UTC"),
            channels=s.get("channels", as_str_list, ()),
            rules=rules if s.has("rules") else None,
            min_items=s.get("min_items", as_int, 1),
            send_empty=s.get("send_empty", as_bool, False),
            include_alerted=s.get("include_alerted", as_bool, False),
        ))
    return tuple(digests)


def _alerts(s: Section) -> AlertConfig:
    d = AlertConfig()
    return AlertConfig(channels=s.get("channels", as_str_list, d.channels),
                       throttle=s.get("throttle", parse_duration, d.throttle))


def _check_references(doc: YamlDoc, config: Config) -> None:
    known = {c.name for c in config.channels}
    for index, digest in enumerate(config.digests):
        for position, name in enumerate(digest.channels):
            if name not in known:
                doc.problem(("digests", index, "channels", position),
                            f"unknown channel '{name}'{did_you_mean(name, known)}")
    for position, name in enumerate(config.alerts.channels):
        if name not in known:
            doc.problem(("alerts", "channels", position),
                        f"unknown channel '{name}'{did_you_mean(name, known)}")
