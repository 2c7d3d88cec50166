"""The frozen Config and its parts: each field is one key of watcher.yaml.

How a field is read (its YAML name, parser, default, checks) is said here and only here;
see ``watcher.config.reader`` for the rules and ``watcher.config`` for adding a key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from watcher.config.reader import UNIQUE_NAME, KeepDefault, Reading, key, relative_path
from watcher.config.values import (
    as_crontab,
    as_http_url,
    as_positive_int,
    as_str,
    as_timezone,
    as_upper_str,
    at_least,
    parse_duration,
    parse_size,
)

USER_AGENT = "watcher/0.1 (self-hosted news watcher; feed reader)"
_INDEX_SCHEMES = ("sqlite", "postgresql", "postgres", "postgresql+psycopg")


def as_index_url(value: Any) -> str:
    """``index:``; empty (``${WATCHER_INDEX_URL:-}`` unset) keeps the default SQLite file."""
    text = as_str(value).strip()
    if not text:
        raise KeepDefault
    scheme, sep, _ = text.partition("://")
    if not sep or scheme not in _INDEX_SCHEMES:
        raise ValueError("expected postgresql://user:password@host/database or "
                         "sqlite:///path/to/index.sqlite3")
    return text


def _default_interval(reading: Reading) -> timedelta:
    interval: timedelta = reading.top["poll"].interval
    return interval


def is_auto(value: object) -> bool:
    """``interval: auto`` (any case); other values are left to ``duration_unless_auto``."""
    return isinstance(value, str) and value.strip().lower() == "auto"


def duration_unless_auto(value: object) -> timedelta:
    """A duration; ``auto`` keeps the key's default (``is_auto`` reads it)."""
    if is_auto(value):
        raise KeepDefault
    return parse_duration(value)


def _default_adaptive(reading: Reading) -> bool:
    adaptive: bool = reading.top["poll"].adaptive
    return adaptive


FeedKind = Literal["feed", "sitemap"]


@dataclass(frozen=True)
class FeedConfig:
    name: str = field(metadata=key(unique=UNIQUE_NAME))
    url: str = field(metadata=key(parse=as_http_url,
                                  unique="duplicate {what} url (also on line {line})"))
    # default: poll.interval; never under 30s, whichever of the two set it. With
    # ``interval: auto`` (``adaptive``) it is only the fallback of a feed with no history.
    interval: timedelta = field(metadata=key(default_from=_default_interval,
                                             parse=duration_unless_auto,
                                             check=at_least(timedelta(seconds=30))))
    enabled: bool = True
    kind: FeedKind = field(default="feed", metadata=key(yaml="type"))  # or a sitemap
    tags: tuple[str, ...] = ()
    # ``interval: auto``: polled as often as it publishes (watcher.polling)
    adaptive: bool = field(default=False, metadata=key(yaml="interval", parse=is_auto,
                                                       default_from=_default_adaptive))
    # WebSub push when the feed offers a hub and http.public_url is set (docs/feeds.md)
    websub: bool = True


@dataclass(frozen=True)
class PollConfig:
    interval: timedelta = field(default=timedelta(minutes=15),
                                metadata=key(parse=duration_unless_auto))
    jitter: float = 0.1  # fraction of the interval added at random, spreads polls out
    # entries taken from one feed in one poll
    max_entries: int = field(default=100, metadata=key(parse=as_positive_int))
    concurrency: int = field(default=8, metadata=key(parse=as_positive_int))  # feeds at once
    max_backoff: timedelta = timedelta(hours=6)
    # consecutive failures before the user is told
    failing_after: int = field(default=5, metadata=key(parse=as_positive_int))
    # ``interval: auto``: every feed's default is to be polled as often as it publishes
    adaptive: bool = field(default=False, metadata=key(yaml="interval", parse=is_auto))
    # the bounds of ``auto``
    min_interval: timedelta = field(default=timedelta(minutes=5),
                                    metadata=key(check=at_least(timedelta(seconds=30))))
    max_interval: timedelta = timedelta(hours=6)


@dataclass(frozen=True)
class NetworkConfig:
    allow: tuple[str, ...] = ()  # addresses, CIDR ranges or host names the SSRF guard lets by
    user_agent: str = USER_AGENT
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0  # whole request, headers to last byte
    max_feed_bytes: int = field(default=16 * 1024 * 1024, metadata=key(parse=parse_size))
    max_page_bytes: int = field(default=8 * 1024 * 1024, metadata=key(parse=parse_size))
    max_redirects: int = 5
    per_host_concurrency: int = field(default=2, metadata=key(parse=as_positive_int))
    per_host_min_gap: float = 0.5  # seconds between request starts to one host


@dataclass(frozen=True)
class ExtractConfig:
    workers: int = 0  # 0: one per core
    timeout: float = 20.0  # seconds per page; a worker past it is killed and replaced
    # distinct articles of one site that must share a paragraph before it counts as boilerplate
    boilerplate_min_articles: int = field(default=3, metadata=key(parse=as_positive_int))
    boilerplate_window: timedelta = timedelta(days=30)


@dataclass(frozen=True)
class EmailChannel:
    name: str = field(metadata=key(unique=UNIQUE_NAME))
    smtp: str  # smtp://host:25, smtp+starttls://user:pass@host:587, smtps://host:465
    sender: str = field(metadata=key(yaml="from"))
    to: tuple[str, ...]
    type: Literal["email"] = "email"


@dataclass(frozen=True)
class SlackChannel:
    name: str = field(metadata=key(unique=UNIQUE_NAME))
    webhook: str
    type: Literal["slack"] = "slack"


@dataclass(frozen=True)
class FileChannel:
    name: str = field(metadata=key(unique=UNIQUE_NAME))
    dir: Path
    type: Literal["file"] = "file"


@dataclass(frozen=True)
class AppriseChannel:
    name: str = field(metadata=key(unique=UNIQUE_NAME))
    urls: tuple[str, ...] = field(metadata=key(yaml="url", also=("urls",)))
    type: Literal["apprise"] = "apprise"


ChannelConfig = EmailChannel | SlackChannel | FileChannel | AppriseChannel


@dataclass(frozen=True)
class DigestConfig:
    name: str = field(metadata=key(unique=UNIQUE_NAME))
    schedule: str = field(metadata=key(parse=as_crontab))  # crontab, five fields
    timezone: str = field(default="UTC", metadata=key(parse=as_timezone))
    channels: tuple[str, ...] = ()
    # None (no `rules:`): every rule; `rules:` written empty is no rule at all
    rules: tuple[str, ...] | None = field(default=None, metadata=key(empty=()))
    min_items: int = 1
    send_empty: bool = False
    include_alerted: bool = False  # repeat items already sent as immediate alerts


@dataclass(frozen=True)
class AlertConfig:
    channels: tuple[str, ...] = ()  # default channels for `alert: immediate` rules
    throttle: timedelta = timedelta(minutes=10)  # at most one message per rule per window


@dataclass(frozen=True)
class ClusterConfig:
    """Several ``watcher run`` processes on one PostgreSQL index (docs/scaling.md); read
    at start, so an edit takes effect when the members restart. Give every member the
    same values: the scheduler's stall timeout judges every worker's heartbeat."""

    # a worker silent this long is taken for dead and its jobs run again; workers send a
    # heartbeat every few seconds, so the floor leaves room for several to go missing
    stall_timeout: timedelta = field(default=timedelta(seconds=30),
                                     metadata=key(check=at_least(timedelta(seconds=15))))
    # finished jobs are deleted from the queue after these (procrastinate counts in hours);
    # failed ones are kept longer, for ``watcher status`` and for finding out why
    keep_done_jobs: timedelta = field(default=timedelta(days=1),
                                      metadata=key(check=at_least(timedelta(hours=1))))
    keep_failed_jobs: timedelta = field(default=timedelta(days=14),
                                        metadata=key(check=at_least(timedelta(hours=1))))


def as_listen_host(value: Any) -> str:
    """``listen: host:port`` (``[::1]:8080`` for IPv6): the host."""
    host, _, port = as_str(value).strip().rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"'{value}' is not host:port (e.g. 127.0.0.1:8080)")
    return host


def as_listen_port(value: Any) -> int:
    """``listen: host:port``: the port (a bad value is reported once, by the host's parser)."""
    _, _, port = as_str(value).strip().rpartition(":")
    if not port.isdigit():
        raise KeepDefault
    return int(port)


def as_secret(value: Any) -> str:
    """A token from ``${VAR}``; empty (the variable unset with ``:-``) means none."""
    text = as_str(value)
    if not text:
        raise KeepDefault
    return text


@dataclass(frozen=True)
class HttpConfig:
    """The web pages, API and metrics ``watcher run`` serves (docs/web.md)."""

    host: str = field(default="127.0.0.1", metadata=key(yaml="listen", parse=as_listen_host))
    port: int = field(default=8080, metadata=key(yaml="listen", parse=as_listen_port))
    # bearer token or basic-auth password; required unless listening on loopback
    token: str | None = field(default=None, metadata=key(parse=as_secret))
    # how others reach the pages (Atom links, WebSub callbacks)
    public_url: str | None = field(default=None, metadata=key(parse=as_http_url))
S3_SCHEME = "s3://"


def _check_articles(value: str) -> str | None:
    if value.startswith(S3_SCHEME) and not value[len(S3_SCHEME):].split("/")[0]:
        return "an S3 location names its bucket: s3://bucket/prefix"
    return None


def _default_state_dir(reading: Reading) -> Path:
    return (reading.folder / "../state").resolve()


def _default_rules_path(reading: Reading) -> Path:
    return reading.folder / "rules.yaml"


@dataclass(frozen=True)
class Config:
    path: Path = field(metadata=key(in_yaml=False))
    state_dir: Path = field(metadata=key(default_from=_default_state_dir))
    rules_path: Path = field(metadata=key(yaml="rules", default_from=_default_rules_path))
    # the index's URL (postgresql://...); None: index.sqlite3 in state_dir (docs/store.md)
    index: str | None = field(default=None, metadata=key(parse=as_index_url))
    store: Literal["matched", "all"] = "matched"
    # Where article files go: a folder (relative to this file; state_dir/articles when left
    # out), possibly shared by several machines, or s3://bucket/prefix.
    articles: str = field(default="", metadata=key(check=_check_articles))
    keep_text: timedelta = timedelta(days=30)  # text of unmatched articles kept for `rules test`
    log_level: str = field(default="INFO", metadata=key(parse=as_upper_str))
    poll: PollConfig = field(default_factory=PollConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    feeds: tuple[FeedConfig, ...] = field(default=(), metadata=key(item="feed"))
    channels: tuple[ChannelConfig, ...] = field(default=(), metadata=key(item="channel"))
    digests: tuple[DigestConfig, ...] = field(default=(), metadata=key(item="digest"))
    alerts: AlertConfig = field(default_factory=AlertConfig)
    http: HttpConfig | None = None  # None: no web pages
    cluster: ClusterConfig = field(default_factory=ClusterConfig)

    @property
    def articles_dir(self) -> Path:
        """The folder of article files (state_dir/articles when they go to a bucket)."""
        if not self.articles or self.articles.startswith(S3_SCHEME):
            return self.state_dir / "articles"
        return relative_path(self.path.parent, self.articles)

    @property
    def articles_location(self) -> str:
        """``articles`` as given when it is a bucket, else the folder."""
        return self.articles if self.articles.startswith(S3_SCHEME) else str(self.articles_dir)

    @property
    def index_path(self) -> Path:
        return self.state_dir / "index.sqlite3"

    @property
    def database_url(self) -> str:
        return self.index or f"sqlite:///{self.index_path}"

    def channel(self, name: str) -> ChannelConfig | None:
        return next((c for c in self.channels if c.name == name), None)

    def feed(self, name: str) -> FeedConfig | None:
        return next((f for f in self.feeds if f.name == name), None)
