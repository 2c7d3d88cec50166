"""The index and the article files: a real SQLite file, and a real PostgreSQL database."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.data import SEEDS
from watcher.errors import StateLockedError, StoreError
from watcher.store import MAX_STORED_HITS_PER_TERM, Store
from watcher.store.codec import hits_from_json, hits_json_text, hits_to_json
from watcher.store.files import FILE_NAME, file_name, render
from watcher.store.lock import state_lock
from watcher.store.objects import LocalArticleFiles
from watcher.store.ready import Outcome, ready
from watcher.types import Article, FeedEntry, Filed, Hit, RuleMatch
from watcher.urls import url_hash

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


def seed_article(name: str, url: str) -> Article:
    lines = [line for line in (SEEDS / name).read_text(encoding="utf-8").split("\n") if line]
    return Article(url=url, canonical_url=url, feed="independent-world",
                   site="independent.co.uk", title=lines[0], description=lines[1],
                   paragraphs=tuple(lines[2:]), fetched=NOW)


def entry(entry_id: str, url: str) -> FeedEntry:
    return FeedEntry(entry_id=entry_id, url=url, title=f"title {entry_id}", summary="s",
                     content="", published=NOW)


def test_file_name_is_number_and_url_hash() -> None:
    url = "https://www.independent.co.uk/news/world/europe/mi6-russia-b2378245.html"
    name = file_name(4, url)
    assert FILE_NAME.match(name)
    assert name == f"004_{url_hash(url)}.txt"
    assert file_name(1234, url).startswith("1234_")


def test_rendered_article_has_exactly_the_seed_layout() -> None:
    seed = (SEEDS / "004_f3f2e1a6f771f557.txt").read_text(encoding="utf-8")
    article = seed_article("004_f3f2e1a6f771f557.txt", "https://example.org/a")
    assert render(article) == seed


def test_render_keeps_each_field_on_its_line() -> None:
    article = Article(url="u", canonical_url="u", feed="f", site="s",
                      title="A title\nsplit", description="", fetched=NOW,
                      paragraphs=("one\nparagraph", "", "two"))
    assert render(article) == "A title split\none paragraph\ntwo"



def test_a_batchs_commit_tells_each_article_by_number_and_rules(store: Store) -> None:
    """The committing process learns only what it needs of a batch: numbers and matched
    rules. The hits reach the index all the same, from the JSON built where the work ran."""
    url = "https://www.independent.co.uk/news/world/mi6"
    article = seed_article("004_f3f2e1a6f771f557.txt", url)
    hits = (Hit("title", 0, 3, "MI6"), Hit("body", 10, 13, "MI6"))
    found = [RuleMatch("spies", hits), RuleMatch("russia", hits[1:])]
    later = replace(article, url=url + "?page=2", canonical_url=url + "?page=2")
    results = store.commit([Outcome(None, ready(article, found, write_file=True)),
                            Outcome(None, ready(article, [], write_file=True)),
                            Outcome(None, ready(later, [], write_file=False))], NOW)
    assert results == [Filed(1, ("spies", "russia")), None, Filed(2, ())]
    stored = store.get_article(1)
    assert stored is not None and stored.matches == tuple(found)
    assert stored.file_name is not None

def test_store_numbers_writes_and_dedupes(store: Store, tmp_path: Path) -> None:
    url = "https://www.independent.co.uk/news/world/mi6"
    article = seed_article("004_f3f2e1a6f771f557.txt", url)
    hits = (Hit("body", 10, 13, "MI6"),)
    first = store.store_article(article, [RuleMatch("mi6", hits)], entry_row_id=None,
                                write_file=True, now=NOW)
    assert first is not None and first.file_name == f"001_{url_hash(url)}.txt"
    stored_text = (tmp_path / "articles" / first.file_name).read_text(encoding="utf-8")
    assert stored_text == (SEEDS / "004_f3f2e1a6f771f557.txt").read_text(encoding="utf-8")
    assert store.store_article(article, [], entry_row_id=None, write_file=True,
                               now=NOW) is None
    second = store.store_article(
        seed_article("004_f3f2e1a6f771f557.txt", url + "?page=2"), [], entry_row_id=None,
        write_file=False, now=NOW)
    assert second is not None and second.number == 2 and second.file_name is None
    again = store.get_article(1)
    assert again is not None and again.matches == (RuleMatch("mi6", hits),)
    assert again.article.paragraphs == article.paragraphs
    assert store.integrity_ok()


def test_the_date_source_and_outlet_name_round_trip(store: Store) -> None:
    named = replace(seed_article("004_f3f2e1a6f771f557.txt", "https://example.org/named"),
                    published=NOW - timedelta(hours=3), published_source="json-ld",
                    site_name="The Independent")
    unnamed = seed_article("004_f3f2e1a6f771f557.txt", "https://example.org/unnamed")
    for number, article in enumerate((named, unnamed), start=1):
        assert store.store_article(article, [RuleMatch("mi6", (Hit("title", 0, 3, "MI6"),))],
                                   entry_row_id=None, write_file=False, now=NOW) is not None
        again = store.get_article(number)
        assert again is not None and again.article == article
    assert named.outlet == "The Independent" and unnamed.outlet == "independent.co.uk"
    recent = {s.article.url: s.article for s in store.recent_articles(NOW - timedelta(days=1))}
    assert recent["https://example.org/named"].published_source == "json-ld"
    assert recent["https://example.org/unnamed"].published_source == ""
    found = {c.url: c for c in store.outbox.candidates(NOW - timedelta(days=1), NOW, ["mi6"])}
    assert found["https://example.org/named"].outlet == "The Independent"
    # no name recorded (as in rows stored before revision 0002): the host
    assert found["https://example.org/unnamed"].site_name == ""
    assert found["https://example.org/unnamed"].outlet == "independent.co.uk"


def test_a_match_stores_the_first_places_of_each_term(store: Store) -> None:
    # A page repeating a word thousands of times must not store thousands of offsets.
    article = seed_article("004_f3f2e1a6f771f557.txt", "https://example.org/spam")
    flood = tuple(Hit("body", 10 * i, 10 * i + 3, "spy") for i in range(300))
    other = (Hit("title", 0, 3, "MI6"), Hit("body", 5, 8, "MI6"))
    stored = store.store_article(article, [RuleMatch("r", other[:1] + flood + other[1:])],
                                 entry_row_id=None, write_file=False, now=NOW)
    assert stored is not None
    again = store.get_article(stored.number)
    assert again is not None
    kept = again.matches[0].hits
    assert kept == other[:1] + flood[:MAX_STORED_HITS_PER_TERM] + other[1:]


def test_the_hits_text_is_what_json_dumps_writes_for_the_stored_hits() -> None:
    # Encoded where the work ran, inserted as it is: the same text SQLAlchemy's JSON wrote.
    cases = [
        (),
        (Hit("title", 0, 3, "MI6"), Hit("body", 5, 8, 'say "MI6"\\')),
        (Hit("body", 1, 7, "Zürich — 東京"), Hit("url", 0, 2, "\n\t\u2028")),
        (*(Hit("body", 10 * i, 10 * i + 3, "spy") for i in range(120)),
         Hit("summary", 2, 4, "MI6")),
    ]
    for hits in cases:
        assert hits_json_text(hits) == json.dumps(hits_to_json(hits))
        assert hits_from_json(json.loads(hits_json_text(hits))) == (
            hits if len(hits) < 100 else hits[:MAX_STORED_HITS_PER_TERM] + hits[-1:])


def test_entries_are_registered_once_by_id_and_by_canonical_url(store: Store) -> None:
    found = [(entry("1", "https://e.org/a"), "https://e.org/a"),
             (entry("2", "https://e.org/b"), "https://e.org/b")]
    assert store.register_entries("one", found, NOW) == 2
    assert store.register_entries("one", found, NOW) == 0
    # The same article syndicated in another feed is not fetched again.
    assert store.register_entries("two", [(entry("x", "https://e.org/a?utm_source=x"),
                                           "https://e.org/a")], NOW) == 0
    pending = store.pending_entries("one")
    assert [p.entry.entry_id for p in pending] == ["1", "2"]
    assert pending[0].entry.published == NOW
    store.finish_entry(pending[0].row_id, "done", NOW)
    assert [p.entry.entry_id for p in store.pending_entries("one")] == ["2"]


def test_an_entry_that_keeps_failing_is_given_up(store: Store, tmp_path: Path) -> None:
    store.register_entries("one", [(entry("1", "https://e.org/a"), "https://e.org/a")], NOW)
    row = store.pending_entries("one")[0].row_id
    for attempt in range(3):
        assert store.pending_entries("one", max_attempts=3) != []
        # A failed attempt is an outcome without an article, counted in the commit.
        assert store.commit([Outcome(row, None)], NOW + timedelta(minutes=attempt)) == [None]
    assert store.pending_entries("one", max_attempts=3) == []


def test_reconcile_removes_orphans_and_restores_missing_files(store: Store, tmp_path: Path) -> None:
    article = seed_article("004_f3f2e1a6f771f557.txt", "https://e.org/a")
    stored = store.store_article(article, [], entry_row_id=None, write_file=True, now=NOW)
    assert stored is not None and stored.file_name
    folder = tmp_path / "articles"
    (folder / "002_0123456789abcdef.txt").write_text("orphan of a crash")
    (folder / ".tmp-half").write_text("half")
    (folder / stored.file_name).unlink()
    assert store.reconcile_files() == (2, 1)
    assert sorted(p.name for p in folder.iterdir()) == [stored.file_name]
    assert (folder / stored.file_name).read_text(encoding="utf-8") == render(article)


def test_a_failed_file_write_stores_nothing(store: Store, tmp_path: Path) -> None:
    # Stands in for a full disk: any OSError while writing must roll the article back.
    store.files = LocalArticleFiles(tmp_path / "not-a-folder")
    (tmp_path / "not-a-folder").write_text("a file where the folder should be")
    store.register_entries("one", [(entry("1", "https://e.org/a"), "https://e.org/a")], NOW)
    row = store.pending_entries("one")[0].row_id
    with pytest.raises(StoreError, match="cannot write article file"):
        store.store_article(seed_article("004_f3f2e1a6f771f557.txt", "https://e.org/a"),
                            [], entry_row_id=row, write_file=True, now=NOW)
    assert store.article_count() == 0
    assert [p.row_id for p in store.pending_entries("one")] == [row]


def test_article_numbers_come_from_the_database(store: Store, backend: str) -> None:
    first = store.store_article(seed_article("004_f3f2e1a6f771f557.txt", "https://e.org/1"),
                                [], entry_row_id=None, write_file=False, now=NOW)
    assert isinstance(store.files, LocalArticleFiles)
    store.files.folder.parent.joinpath("blocked").write_text("not a folder")
    store.files = LocalArticleFiles(store.files.folder.parent / "blocked")
    with pytest.raises(StoreError):  # rolled back after the number was drawn
        store.store_article(seed_article("004_f3f2e1a6f771f557.txt", "https://e.org/2"),
                            [], entry_row_id=None, write_file=True, now=NOW)
    after = store.store_article(seed_article("004_f3f2e1a6f771f557.txt", "https://e.org/3"),
                                [], entry_row_id=None, write_file=False, now=NOW)
    assert first is not None and after is not None and first.number == 1
    # PostgreSQL's sequence never hands a number out twice, even one whose transaction
    # rolled back; SQLite's rowid takes the next after the highest stored row.
    assert after.number == (3 if backend == "postgresql" else 2)


def test_purge_forgets_only_old_unmatched_text(store: Store, tmp_path: Path) -> None:
    old = seed_article("004_f3f2e1a6f771f557.txt", "https://e.org/old")
    kept = seed_article("004_f3f2e1a6f771f557.txt", "https://e.org/matched")
    store.store_article(old, [], entry_row_id=None, write_file=False, now=NOW)
    store.store_article(kept, [RuleMatch("r", ())], entry_row_id=None, write_file=True,
                        now=NOW)
    assert store.purge_text(NOW + timedelta(days=1)) == 1
    assert [s.article.canonical_url for s in store.recent_articles(NOW)] == [
        "https://e.org/matched"]


def test_second_daemon_is_refused(tmp_path: Path) -> None:
    with (state_lock(tmp_path), pytest.raises(StateLockedError, match="already running"),
          state_lock(tmp_path)):
        pass
    with state_lock(tmp_path):  # released when the holder exits
        pass
