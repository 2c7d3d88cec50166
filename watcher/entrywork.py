"""One entry's CPU work, as plain functions on frozen data that run in a worker process.

An entry's work is: fetch its page, extract the article, drop the site's boilerplate, judge
the text, build the article, match it, and build its rows and its file's text. The fetch is
network I/O and stays on the daemon's event loop (a process blocked on a socket is a core
left idle); the rest is CPU and runs here, in two steps around the one thing that needs the
index, the site's memory of its boilerplate (``Pipeline._clean_text``):

- ``read_page``: the page's bytes to its article and its paragraphs' fingerprints;
- ``finish_entry``: the cleaned text to a ``ReadyArticle``, matched against the rules this
  worker compiled (``RULES``, shared by ``WorkerPool.share``), with its rows and file text
  built, so the daemon only numbers and commits it (``Store.commit``).

The same functions serve the single-process daemon and a cluster's entry jobs
(``Pipeline.process_entry_by_id``). Each returns the same article, matches and bytes as
doing the work in one place would.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from watcher.dates import DateClaim, publication_time, url_date
from watcher.extract import paragraph_fingerprint
from watcher.extract.cleanup import site_key
from watcher.memory import collector_paused, settle_in_memory
from watcher.rules import Rule, RuleSet
from watcher.store.ready import ReadyArticle, ready
from watcher.textsafe import one_line
from watcher.types import Article, ExtractedPage, FeedEntry, TextSource
from watcher.urls import site_of
from watcher.worker_main import shared

RULES = "rules"  # the key the compiled rules are shared under


@dataclass(frozen=True)
class RuleSource:
    """The rules as checked, to be compiled in each worker (a compiled rule set holds
    closures, which do not pickle)."""

    rules: tuple[Rule, ...]


# The rules the workers' fork server compiled before forking this process, with what they
# were compiled from (``preload_rules``); None in every other process.
_preloaded: tuple[RuleSource, RuleSet] | None = None


def compile_rules(source: RuleSource, *, kept_for: Path | None = None) -> RuleSet:
    """``source`` compiled; in a worker whose fork server compiled the same rules already,
    that compiled set, which the worker holds from birth (``preload_rules``). With
    ``kept_for``, the rules.yaml they were checked from, the set compiled before from the
    same rules is read back from the user's cache, or this one kept there
    (``compiledcache.py``)."""
    if _preloaded is not None and _preloaded[0] == source:
        return _preloaded[1]
    with collector_paused():
        if kept_for is None:
            rules = _compiled(source.rules)
        else:
            from watcher.compiledcache import remembered_compile  # only the fork server's

            rules = remembered_compile(kept_for, source.rules, lambda: _compiled(source.rules))
    settle_in_memory()
    return rules


def _compiled(source: tuple[Rule, ...]) -> RuleSet:
    rules = RuleSet(source)
    rules.triggers  # noqa: B018 - compiled now, off the hot path and before the settling
    return rules


def preload_rules(config_path: Path) -> bool:
    """Compile the rules of the config at ``config_path`` for ``compile_rules`` to hand out
    (run by the workers' fork server: ``watcher/forkserver.py``); whether it did.

    Rules that do not check clean, or a config that does not load, leave nothing preloaded
    and raise nothing: the daemon checks the same files and reports their problems itself.
    """
    global _preloaded
    from watcher.checks import validate  # the fork server's only use of the config

    try:
        config, rules, problems = validate(config_path)
    except Exception:  # unreadable here is the daemon's error to report, not the server's
        return False
    if config is None or rules is None or problems:
        return False
    source = RuleSource(tuple(rules.rules))
    _preloaded = (source, compile_rules(source, kept_for=config.rules_path))
    return True


@dataclass(frozen=True)
class PageReading:
    page: ExtractedPage
    fingerprints: tuple[str | None, ...]  # per paragraph (extract.paragraph_fingerprint)


def read_page(html: bytes, url: str, content_type: str | None,
              fetched: datetime) -> PageReading:
    """The article in a fetched page and its paragraphs' fingerprints; raises ExtractError
    when the page holds no article text."""
    # Imported here: the daemon imports this module but never extracts, and trafilatura is
    # a large import; the workers' fork server preloads it.
    from watcher.extract import extract_page

    page = extract_page(html, url, content_type, fetched)
    return PageReading(page, tuple(map(paragraph_fingerprint, page.paragraphs)))


@dataclass(frozen=True)
class EntryFacts:
    """What ``finish_entry`` needs: the entry, what its page gave, the cleaned text."""

    entry: FeedEntry
    feed: str
    feed_title: str
    feed_url: str
    page: ExtractedPage | None
    paragraphs: tuple[str, ...] | None  # the page's text less boilerplate; None: none left
    text_source: TextSource
    final_url: str
    canonical: str
    fetched: datetime
    store_all: bool  # a file for every article, not only matched ones (``store: all``)


@dataclass(frozen=True)
class FinishedEntry:
    ready: ReadyArticle
    match_seconds: float  # for the daemon's metrics: a worker's own registry is not served


def finish_entry(facts: EntryFacts, rules: RuleSet | None = None) -> FinishedEntry:
    """The article built, matched (``rules``, else this worker's shared ``RULES``) and made
    ready to store."""
    page = facts.page
    article = build_article(
        entry=facts.entry, feed=facts.feed, page=page, paragraphs=facts.paragraphs,
        final_url=facts.final_url, canonical=facts.canonical, text_source=facts.text_source,
        language=page.language if page and page.language else None, now=facts.fetched,
        feed_title=facts.feed_title, feed_url=facts.feed_url)
    if article.language is None:
        from watcher.extract import detect_language  # see read_page

        article = replace(article, language=detect_language(
            f"{article.title}\n{article.description}\n{article.body}"))
    matching = rules if rules is not None else shared(RULES)
    started = time.perf_counter()
    found = matching.match(article)
    seconds = time.perf_counter() - started
    return FinishedEntry(ready(article, found, write_file=bool(found) or facts.store_all),
                         seconds)


def feed_text(entry: FeedEntry) -> tuple[str, tuple[str, ...]]:
    """(standfirst, paragraphs) from the feed itself, when the page gave nothing."""
    content = tuple(line for line in entry.content.split("\n") if line.strip())
    summary = tuple(line for line in entry.summary.split("\n") if line.strip())
    if content:
        return entry.summary.strip() if entry.summary.strip() not in content else "", content
    return "", summary


def _page_claims(page: ExtractedPage | None) -> tuple[DateClaim, ...]:
    if page is None:
        return ()
    if not page.dates and page.published:  # a page built without its claims (tests, tools)
        return (DateClaim("meta", page.published),)
    return page.dates


MAX_OUTLET_NAME = 100  # characters; a longer "name" is a sentence or a list, not an outlet


def outlet_name(page: ExtractedPage | None, feed_title: str, feed_url: str,
                article_url: str) -> str:
    """What a reader calls the article's outlet: the name the page gives its site, else the
    feed's title when the feed is that site's own (an aggregator's or a planet's title names
    the aggregator, not the outlet), else the host."""
    own_feed = bool(feed_url) and site_key(feed_url) == site_key(article_url)
    for name in (page.site_name if page else "", feed_title if own_feed else ""):
        shown = one_line(name)
        if 0 < len(shown) <= MAX_OUTLET_NAME:
            return shown
    return site_of(article_url)


def build_article(*, entry: FeedEntry, feed: str, page: ExtractedPage | None,
                  paragraphs: tuple[str, ...] | None, final_url: str, canonical: str,
                  text_source: TextSource, language: str | None, now: datetime,
                  feed_title: str = "", feed_url: str = "") -> Article:
    """The article as matched and stored: page metadata first, the feed's where missing;
    the publication time is the best plausible date claimed (watcher/dates.py), the outlet
    named as ``outlet_name`` decides."""
    claims = [*_page_claims(page),
              *([DateClaim("feed", entry.published)] if entry.published else []),
              *([DateClaim("url", found)] if (found := url_date(final_url)) else [])]
    published_source, published = publication_time(claims, now)
    if page is not None and paragraphs:
        title = page.title or entry.title
        description = page.description
        body = paragraphs
        author = page.author or entry.author
    else:
        description, body = feed_text(entry)
        title, author = entry.title, entry.author
        text_source = "feed"
    return Article(
        url=final_url, canonical_url=canonical, feed=feed, site=site_of(final_url),
        title=title.strip() or final_url, description=description, paragraphs=body,
        fetched=now, published=published, author=author, language=language,
        text_source=text_source, entry_id=entry.entry_id, published_source=published_source,
        site_name=outlet_name(page, feed_title, feed_url, final_url))
