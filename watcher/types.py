"""Plain data handed between stages. Library objects are converted to these at the boundary.

Every datetime here is timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, NamedTuple

from watcher.dates import DateClaim, DateSource, as_utc, plausible

# Where an article's text came from: the page via extraction, the feed's own content or
# summary (page failed or was empty), or a page whose text looks cut short (teaser/paywall).
TextSource = Literal["page", "feed", "partial"]

FeedStatus = Literal["new", "ok", "failing", "gone"]


@dataclass(frozen=True)
class Redirect:
    status: int
    from_url: str
    to_url: str


@dataclass(frozen=True)
class HttpResult:
    """A completed HTTP exchange (any status); the body is already fully read and capped."""

    requested_url: str
    url: str  # after redirects
    status: int
    headers: Mapping[str, str]  # lower-cased names
    content: bytes
    redirects: tuple[Redirect, ...] = ()
    elapsed_ms: float = 0.0

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")


@dataclass(frozen=True)
class FeedEntry:
    entry_id: str  # the feed's guid/id, or the link when the feed gives none
    url: str  # the entry's link as given (absolute)
    title: str
    summary: str  # plain text
    content: str  # plain text, one paragraph per line; "" when the feed has no content
    published: datetime | None
    author: str = ""
    language: str = ""  # as the feed states it (a news sitemap's <news:language>), or ""


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    site_url: str
    entries: tuple[FeedEntry, ...]
    ttl: timedelta | None = None  # RSS <ttl>
    warning: str | None = None  # why the feed was malformed, when entries were still usable
    # WebSub: the hubs the document names (Atom/RSS rel="hub", JSON Feed "hubs") and the
    # URL it calls itself (rel="self", JSON Feed "feed_url"); watcher/websub/discovery.py
    hubs: tuple[str, ...] = ()
    self_url: str = ""


@dataclass(frozen=True)
class ExtractedPage:
    """What extraction got out of one article page."""

    title: str
    description: str
    paragraphs: tuple[str, ...]
    published: datetime | None = None  # the page's best plausible date (watcher/dates.py)
    author: str = ""
    language: str | None = None  # ISO 639-1, e.g. "en"
    paywall: bool = False  # the page carries paywall/subscriber-only markers
    dates: tuple[DateClaim, ...] = ()  # every date the page claims, for build_article
    site_name: str = ""  # what the site calls itself (og:site_name, JSON-LD publisher)


@dataclass(frozen=True)
class Article:
    """One processed article, ready for matching and storing (not yet numbered)."""

    url: str  # final URL of the page
    canonical_url: str
    feed: str  # feed name from the config
    site: str  # host without "www.", e.g. "theguardian.com"
    title: str
    description: str
    paragraphs: tuple[str, ...]
    fetched: datetime
    published: datetime | None = None
    author: str = ""
    language: str | None = None
    text_source: TextSource = "page"
    entry_id: str = ""
    # Which claim ``published`` is (watcher/dates.py); "" when not known (an article stored
    # before the index kept it).
    published_source: DateSource | Literal[""] = ""
    # The outlet by its own name (entrywork.outlet_name); "" when not known (stored before
    # the index kept it): ``outlet`` is then the host.
    site_name: str = ""

    @property
    def outlet(self) -> str:
        return self.site_name or self.site

    @property
    def body(self) -> str:
        """The body as matched and stored: one paragraph per line."""
        return "\n".join(self.paragraphs)


# Hit and RuleMatch are named tuples, not frozen dataclasses like the rest: the matcher makes
# dozens of them per article, and a frozen dataclass is dearer to build (one
# object.__setattr__ per field; figures in docs/rules.md, Speed). They are just as immutable.


class Hit(NamedTuple):
    """One occurrence of a query term: ``field`` text[start:end]."""

    field: str  # "title", "summary", "body", "url", "author", ...
    start: int
    end: int
    term: str  # the query term that produced it, as written in the query


class RuleMatch(NamedTuple):
    rule: str
    hits: tuple[Hit, ...] = ()


@dataclass(frozen=True)
class StoredArticle:
    """An article with its place in the index."""

    number: int
    article: Article
    file_name: str | None  # seed-format file in state/articles/, when written
    matches: tuple[RuleMatch, ...] = ()


class Filed(NamedTuple):
    """An article just stored, as its commit tells it: its number and the rules it matched.

    The article itself, its text and its hits, is in the index. A poll's report and the
    alerts made from it need no more; a ``run --once`` over thousands of articles would
    otherwise hold every one of them, text and hits, until its cycle ended, and the
    workers would send every hit twice, as objects beside the JSON the index stores.
    """

    number: int
    rules: tuple[str, ...]


class ArticleText(NamedTuple):
    """A stored article's number and text fields (title, summary, body, url and author, in
    the order of ``rules.query.TEXT_FIELDS``): what a search of the archive reads first, so
    that it reads the rest only of the articles that may match. (A named tuple: a search
    makes one per article it walks, and a tuple is the cheapest to make.)"""

    number: int
    texts: tuple[str, str, str, str, str]


@dataclass(frozen=True)
class FeedState:
    """A feed's HTTP state and schedule as the index keeps it (``lifecycle`` moves it on)."""

    name: str
    config_url: str
    url: str
    title: str = ""
    etag: str | None = None
    last_modified: str | None = None
    status: FeedStatus = "new"
    last_poll: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    consecutive_failures: int = 0
    next_poll: datetime | None = None
    polls: int = 0
    not_modified: int = 0
    entries_seen: int = 0
    articles_stored: int = 0
    matches: int = 0
    notice: str | None = None
    notice_sent: bool = True

    def is_due(self, now: datetime) -> bool:
        return self.status != "gone" and (self.next_poll is None or self.next_poll <= now)


@dataclass(frozen=True)
class Candidate:
    """One matched article as read from the index: the input of ``build_digest``."""

    number: int
    url: str
    title: str
    site: str
    feed: str
    published: datetime | None
    fetched: datetime
    text_source: TextSource
    description: str
    body: str
    rules: tuple[str, ...]  # rules it matched, in rule-set order
    hits: tuple[tuple[str, int, int, str], ...] = ()  # (field, start, end, term), all its rules
    # The same hits per rule, so an item shows the sentence of the rule it is listed under;
    # empty when the reader did not keep them apart (then ``hits`` serves every rule).
    rule_hits: tuple[tuple[str, tuple[tuple[str, int, int, str], ...]], ...] = ()
    site_name: str = ""  # the outlet's own name; "" for rows stored before it was kept

    @property
    def outlet(self) -> str:
        """The outlet as a reader knows it: its own name, else its host."""
        return self.site_name or self.site

    def hits_of(self, rule: str) -> tuple[tuple[str, int, int, str], ...]:
        for name, hits in self.rule_hits:
            if name == rule:
                return hits
        return self.hits

    @property
    def when(self) -> datetime:
        """The publication time, or the fetch time when the index holds none that is
        plausible (rows stored before watcher/dates.py judged dates); aware UTC."""
        if self.published is not None and plausible(self.published, self.fetched):
            return as_utc(self.published) or self.published
        return as_utc(self.fetched) or self.fetched.replace(tzinfo=UTC)


@dataclass(frozen=True)
class FeedNotice:
    """A message about a feed the user must be told once (moved, gone, failing)."""

    feed: str
    message: str
