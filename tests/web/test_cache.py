"""The pages' cache (watcher/web/cache.py): answers reused until the rows they show change,
one computation for many concurrent askers; and the tester's bounded, paged search, which
reads whole only the articles that may match."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.web.archive import Archive
from tests.web.conftest import Site
from watcher.rules import Rule, RuleSet
from watcher.rules.scan import field_texts
from watcher.store.reading import recent_query
from watcher.store.schema import articles
from watcher.types import Article, RuleMatch, StoredArticle
from watcher.web.cache import Memo
from watcher.web.context import CHANGE_MARKER_FRESH, WebContext

pytestmark = pytest.mark.timeout(60)


def test_memo_reuses_until_its_time_is_up_and_keeps_the_newest() -> None:
    now = [0.0]
    memo: Memo[str] = Memo(size=2, seconds=10, clock=lambda: now[0])
    calls: list[str] = []

    def make(value: str) -> str:
        calls.append(value)
        return value

    assert memo.get("a", lambda: make("a1")) == "a1"
    assert memo.get("a", lambda: make("a2")) == "a1"
    now[0] = 11.0
    assert memo.get("a", lambda: make("a3")) == "a3"  # expired: worked out again
    memo.get("b", lambda: make("b"))
    memo.get("c", lambda: make("c"))  # size 2: "a", the least recently used, goes
    assert memo.get("a", lambda: make("a4")) == "a4"
    assert calls == ["a1", "a3", "b", "c", "a4"]
    assert (memo.stats.hits, memo.stats.misses) == (1, 5)


def test_memo_works_a_missing_key_out_once_for_concurrent_askers() -> None:
    memo: Memo[int] = Memo(size=8, seconds=60)
    started, release = threading.Event(), threading.Event()
    calls = []

    def slow() -> int:
        calls.append(1)
        started.set()
        release.wait(10)
        return 42

    answers: list[int] = []
    first = threading.Thread(target=lambda: answers.append(memo.get("k", slow)))
    first.start()
    started.wait(10)
    others = [threading.Thread(target=lambda: answers.append(memo.get("k", slow)))
              for _ in range(5)]
    for thread in others:
        thread.start()
    deadline = time.monotonic() + 10
    while memo.stats.waits < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    for thread in [first, *others]:
        thread.join(10)
    assert answers == [42] * 6 and len(calls) == 1
    assert memo.stats.waits == 5


def test_memo_hands_a_failure_to_every_waiter_and_caches_nothing() -> None:
    memo: Memo[int] = Memo(size=8, seconds=60)

    def broken() -> int:
        raise OSError("index gone")

    with pytest.raises(OSError):
        memo.get("k", broken)
    assert memo.get("k", lambda: 7) == 7


def add_article(archive: Archive, title: str, body: str,
                fetched: datetime | None = None) -> int:
    article = Article(url=f"https://wires.example/{len(title)}-{time.time_ns()}",
                      canonical_url=f"https://wires.example/{time.time_ns()}",
                      feed="wires", site="wires.example", title=title, description="",
                      paragraphs=(body,), fetched=fetched or datetime.now(UTC))
    stored = archive.store.store_article(article, archive.rules.match(article),
                                         entry_row_id=None, write_file=False,
                                         now=article.fetched)
    assert stored is not None
    return stored.number


def test_pages_are_worked_out_again_only_when_their_matches_change(site: Site) -> None:
    context = site.context
    first = httpx.get(site.url + "/", timeout=10).text
    add_article(site.archive, "Weather report", "Sunny spells and light winds today.")
    again = httpx.get(site.url + "/", timeout=10).text
    # no new match: the page is answered from the cache
    assert context.pages.stats.misses == 1
    assert again == first
    backfilled = site.archive.numbers["unmatched"]
    site.archive.store.record_matches(backfilled, [RuleMatch("belarus", ())],
                                      origin="backfill", now=datetime.now(UTC))
    # a match on an article not on the page: the page is looked up anew, but its stories
    # are not folded again (the matched articles it shows are the same)
    httpx.get(site.url + "/?rule=wagner", timeout=10)
    folds = context.stories.stats.misses
    site.archive.store.record_matches(site.archive.numbers["hostile"], [RuleMatch("belarus", ())],
                                      origin="backfill", now=datetime.now(UTC))
    httpx.get(site.url + "/?rule=wagner", timeout=10)
    assert context.stories.stats.misses == folds
    add_article(site.archive, "Minsk summit opens", "Leaders met in Belarus today.")
    assert "Minsk summit opens" in httpx.get(site.url + "/", timeout=10).text
    assert context.stories.stats.misses == folds + 1


def test_the_change_marker_is_read_once_a_second_so_many_readers_share_a_page(
        archive: Archive) -> None:
    now = [100.0]
    context = WebContext(archive.store, lambda: archive.rules, archive.config,
                         clock=lambda: now[0])
    assert context.marker_fresh == CHANGE_MARKER_FRESH
    first = context.front_page({})
    add_article(archive, "Minsk summit opens", "Leaders met in Belarus today.")
    # within the marker's freshness every reader gets the page worked out already ...
    now[0] += CHANGE_MARKER_FRESH / 2
    assert context.front_page({}) is first
    assert context.pages.stats.misses == 1
    # ... and once it has aged, the new match shows
    now[0] += CHANGE_MARKER_FRESH
    assert "Minsk summit opens" in [item.title for item in context.front_page({}).items]
    assert context.pages.stats.misses == 2


def test_tester_searches_a_bounded_page_and_offers_the_older_ones(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("watcher.web.context.TESTER_SCAN", 2)
    monkeypatch.setattr("watcher.web.pages.TESTER_SCAN", 2)
    monkeypatch.setattr("watcher.web.context.TESTER_SECONDS", 60.0)  # pages of two, always
    found: list[int] = []
    scanned = 0
    params: dict[str, str | int] = {"q": "Belarus OR MI6"}
    for _ in range(10):
        data = httpx.get(site.url + "/api/test", params=params, timeout=10).json()
        assert data["scanned"] <= 2
        scanned += data["scanned"]
        found.extend(h["number"] for h in data["hits"])
        if data["next_before"] is None:
            assert data["complete"]
            break
        assert not data["complete"]
        params = {**params, "before": data["next_before"]}
    # the archive's six articles with text, searched two at a time, each once
    assert scanned == 6
    assert len(found) == len(set(found)) == 5
    page = httpx.get(site.url + "/rules", params={"q": "Belarus OR MI6"}, timeout=10).text
    assert "searches at most 2 articles at a time" in page
    older = re.search(r'id="tester-older" href="([^"]+)"', page)
    assert older is not None
    follow = httpx.get(site.url + older.group(1).replace("&amp;", "&"), timeout=10).text
    assert "numbered below" in follow


def test_tester_reads_whole_only_the_articles_whose_text_may_match(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same hits as matching every article of the archive, but the rest of a row (its
    dates, its site...) is read only for the articles whose text holds the rule's words."""
    reading, store = site.context.reading, site.archive.store
    read: list[int] = []
    articles = reading.articles

    def recording(numbers: Sequence[int]) -> dict[int, StoredArticle]:
        read.extend(numbers)
        return articles(numbers)

    monkeypatch.setattr(reading, "articles", recording)
    archive = list(store.recent_articles(datetime.now(UTC) - timedelta(days=7)))
    for query in ("Belarus", "MI6 AND defect*", '"door is always open"', "Minsk AND talks",
                  "Rain OR Prigozhin", "NOT Belarus"):
        read.clear()
        rules = RuleSet([Rule("query", query)])
        data = httpx.get(site.url + "/api/test", params={"q": query}, timeout=10).json()
        assert [h["number"] for h in data["hits"]] == [
            s.number for s in archive if rules.match(s.article)], query
        assert data["scanned"] == len(archive) and data["complete"]
        assert set(read) >= {h["number"] for h in data["hits"]}
    # only the articles that name Belarus were read whole for it
    read.clear()
    httpx.get(site.url + "/api/test", params={"q": "Belarus", "since": "8d"}, timeout=10)
    assert sorted(read) == sorted(s.number for s in archive
                                  if "belarus" in " ".join(field_texts(s.article)).lower())
    assert site.archive.numbers["unmatched"] not in read


def test_the_walk_ends_at_the_first_article_fetched_since_and_misses_none(
        site: Site) -> None:
    """Numbers follow storing, not fetching: an article stored late with an old fetch time
    lies inside the window's numbers, and one fetched in the window is found below it.
    The bound is read from the index of fetch times (SQLite's plan)."""
    archive, reading = site.archive, site.context.reading
    now = datetime.now(UTC)
    old = add_article(archive, "Imported late", "Fetched a month ago.",
                      fetched=now - timedelta(days=30))
    newest = add_article(archive, "Minsk summit opens", "Leaders met in Belarus today.")
    since = now - timedelta(days=7)
    walked = [t.number for t in reading.recent_texts(since)]
    assert walked == [s.number for s in archive.store.recent_articles(since)]
    assert newest in walked and old not in walked and len(walked) == 7
    assert [t.number for t in reading.recent_texts(since, before=old + 1)] == walked[1:]
    window = now - timedelta(hours=1, minutes=30)  # the hostile page and the weather
    assert [t.number for t in reading.recent_texts(window, before=old)] == [
        archive.numbers["unmatched"], archive.numbers["hostile"]]
    assert [t.number for t in reading.recent_texts(now + timedelta(days=1))] == []
    query = recent_query([articles.c.number], since, old).compile(
        archive.store.engine, compile_kwargs={"literal_binds": True})
    with archive.store.engine.connect() as conn:
        plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(
            f"EXPLAIN QUERY PLAN {query}"))
    assert "rowid>? AND rowid<?" in plan and "COVERING INDEX ix_articles_fetched" in plan
