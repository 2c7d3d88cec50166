"""Site boilerplate learned across articles: the seeds' appeal stops matching rules once the
site has been seen a few times; the story's own words keep matching."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.newsroom import article_html, read_seed
from watcher.extract import (
    extract_page,
    fingerprint,
    fingerprints,
    paragraph_fingerprint,
    remove_boilerplate,
)
from watcher.extract.boilerplate import normalise_paragraph
from watcher.rules import Rule, RuleSet
from watcher.store import Store
from watcher.store.boilerplate import BoilerplateStore
from watcher.types import Article

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
SEED = read_seed("004_f3f2e1a6f771f557.txt")
# The Independent's appeal, as the seeds carry it (the first four lines of the seed's body).
APPEAL = SEED.paragraphs[:4]
# Stories of the same site, none mentioning Musk (the appeal does).
STORIES = [
    ("Storm batters the coast", "Thousands without power after the storm.", [
        "A powerful storm battered the coast overnight, cutting power to thousands of homes.",
        "Emergency services received hundreds of calls from residents of flooded houses.",
    ]),
    ("Election results delayed", "Counting continues in three districts.", [
        "Officials said the final results of the regional election would be delayed.",
        "Turnout was the highest in two decades, according to the electoral commission.",
    ]),
    ("Museum reopens after repairs", "The gallery was closed for two years.", [
        "The city museum reopened on Saturday after two years of repairs to its roof.",
        "Visitors queued around the block to see the restored collection of paintings.",
    ]),
    ("MI6 chief speaks in Prague", "A call to Russian officials.", [
        "The head of MI6 urged Russian officials to defect, saying the door is always open.",
        "He spoke at the British embassy in Prague, where he recalled the events of 1968.",
    ]),
]
RULES = RuleSet([Rule("appeal-word", "Musk"), Rule("story-word", "MI6"),
                 Rule("appeal-phrase", '"reproductive rights"')])


def test_fingerprint_ignores_case_punctuation_spacing_and_numbers() -> None:
    assert fingerprint("© 2024 The Independent.  All rights reserved") == fingerprint(
        "(c) 2025 the independent - all rights reserved".replace("(c)", "©"))
    assert fingerprint("Join our commenting forum") == fingerprint("JOIN OUR “commenting” forum!")
    assert fingerprint("Join our commenting forum") != fingerprint("Join our forum")
    assert len(fingerprint("x")) == 16
    assert normalise_paragraph("It’s 10:30 — “late”") == "it s 0 0 late"


def test_remove_boilerplate_keeps_order_and_drops_known() -> None:
    paragraphs = ("Intro.", "Your support makes all the difference.", "Body.", "—")
    known = frozenset({fingerprint("your support makes all the difference")})
    assert remove_boilerplate(paragraphs, known) == ("Intro.", "Body.")
    assert remove_boilerplate(paragraphs, frozenset()) == paragraphs[:3]  # "—" says nothing
    assert fingerprints(["a", "A!", "—"]) == frozenset({fingerprint("a")})


def test_fingerprints_worked_out_once_give_the_same_cleaning() -> None:
    paragraphs = ("Intro.", "Your support makes all the difference.", "Body.", "—", "• ")
    prints = tuple(map(paragraph_fingerprint, paragraphs))
    assert prints[3] is None and prints[4] is None  # no word at all
    assert prints[:3] == tuple(map(fingerprint, paragraphs[:3]))
    known = frozenset({prints[1]}) if prints[1] else frozenset()
    assert remove_boilerplate(paragraphs, known, prints) == remove_boilerplate(
        paragraphs, known) == ("Intro.", "Body.")
    with pytest.raises(ValueError):  # prints for other paragraphs are a bug, not a guess
        remove_boilerplate(paragraphs, known, prints[:2])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[BoilerplateStore]:
    with Store.at(f"sqlite:///{tmp_path / 'index.sqlite3'}", tmp_path / "articles") as index:
        yield index.boilerplate


def test_counts_distinct_articles_within_the_window(store: BoilerplateStore) -> None:
    appeal = fingerprint(APPEAL[0])
    for _ in range(5):  # the same article again and again is one article
        store.record("independent.co.uk", "a1", {appeal}, NOW)
    assert store.known("independent.co.uk", 2, NOW - timedelta(days=30)) == frozenset()
    store.record("independent.co.uk", "a2", {appeal}, NOW)
    assert store.known("independent.co.uk", 2, NOW - timedelta(days=30)) == {appeal}
    # another site's articles do not count, and old sightings fall out of the window
    assert store.known("bbc.co.uk", 1, NOW - timedelta(days=30)) == frozenset()
    assert store.known("independent.co.uk", 2, NOW + timedelta(seconds=1)) == frozenset()
    assert store.prune(NOW + timedelta(seconds=1)) == 2
    assert store.known("independent.co.uk", 1, NOW - timedelta(days=30)) == frozenset()


def test_seeds_case_appeal_stops_matching_story_still_matches(store: BoilerplateStore) -> None:
    """Several articles of one site share the appeal. The first ones are stored as they
    are (not held back); from the third on (min_articles=3) the appeal is gone, so a rule on
    a word only the appeal has matches none of them, while a rule on the story matches."""
    site, window, min_articles = "independent.co.uk", timedelta(days=30), 3
    matched: list[set[str]] = []
    for number, (title, standfirst, story) in enumerate(STORIES):
        url = f"https://www.independent.co.uk/news/{number}.html"
        html = article_html(title, standfirst, [*APPEAL, *story]).encode()
        page = extract_page(html, url, "text/html; charset=utf-8")
        assert page.paragraphs[: len(APPEAL)] == APPEAL  # the extractor alone cannot know
        now = NOW + timedelta(hours=number)
        known, _ = store.observe_article(site, url, fingerprints(page.paragraphs), now,
                                         min_articles=min_articles, window=window,
                                         length_without=lambda _known: 0)
        paragraphs = remove_boilerplate(page.paragraphs, known)
        article = Article(url=url, canonical_url=url, feed="independent-world", site=site,
                          title=page.title, description=page.description,
                          paragraphs=paragraphs, fetched=now)
        matched.append({m.rule for m in RULES.match(article)})
        if number < min_articles - 1:
            assert paragraphs == page.paragraphs  # a new site's first articles keep it all
        else:
            assert paragraphs == tuple(story)
    assert [("appeal-word" in m) for m in matched] == [True, True, False, False]
    assert [("appeal-phrase" in m) for m in matched] == [True, True, False, False]
    assert "story-word" in matched[3]


def test_typical_length_is_the_median_of_recent_articles(store: BoilerplateStore) -> None:
    site = "example.org"
    since = NOW - timedelta(days=30)
    for index, chars in enumerate([3000, 3200, 2800]):
        store.record(site, f"a{index}", set(), NOW, chars=chars)
    assert store.typical_length(site, since) is None  # too new to judge
    for index, chars in enumerate([5000, 100, 3100], start=3):
        store.record_length(site, f"a{index}", chars, NOW)
    store.record_length(site, "a0", 99999, NOW)  # an article counts once
    assert store.typical_length(site, since) == 3050
    assert store.typical_length(site, since, min_samples=7) is None
    assert store.typical_length("other.org", since) is None


def test_an_observed_articles_typical_length_is_as_before_it(
        store: BoilerplateStore) -> None:
    site, window = "example.org", timedelta(days=30)

    def typical_then_record(key: str, chars: int) -> int | None:
        return store.observe_article(site, key, set(), NOW, min_articles=3, window=window,
                                     length_without=lambda _known: chars)[1]

    answers = [typical_then_record(f"a{index}", chars)
               for index, chars in enumerate([1000, 2000, 3000, 4000, 5000, 6000])]
    assert answers == [None, None, None, None, None, 3000]  # five earlier ones: a median
    assert typical_then_record("a0", 99999) == 3500
    assert store.typical_length(site, NOW - window) == 3500  # a0 was recorded once, as 1000


def test_article_key_is_kept_verbatim_per_site(store: BoilerplateStore) -> None:
    fps = fingerprints(APPEAL)
    for key in ("k1", "k2", "k3"):
        store.record("a.example", key, fps, NOW)
        store.record("b.example", key, fps, NOW)
    assert store.known("a.example", 3, NOW) == fps
