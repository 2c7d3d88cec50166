"""The web process follows edits of its two files; the tester stops at its limits."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.web.archive import RULES, write_config
from watcher.config import load_config
from watcher.rules import Rule, RuleSet, load_rules
from watcher.rules.scan import field_texts
from watcher.trial import TrialTargetError, trial_target, try_on
from watcher.types import Article, ArticleText, StoredArticle
from watcher.web import process
from watcher.web.process import FollowedFiles


def test_followed_files_take_good_edits_and_keep_the_last_good(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(process, "FOLLOW_SECONDS", 0.0)
    config = load_config(write_config(tmp_path))
    files = FollowedFiles(config, load_rules(config.rules_path))
    assert files.rules().get("belarus") is not None
    config.rules_path.write_text(RULES + "  - name: minsk\n    query: Minsk\n")
    assert files.rules().get("minsk") is not None
    config.rules_path.write_text("rules:\n  - name: broken\n    query: '(Minsk'\n")
    assert files.rules().get("minsk") is not None  # a broken edit changes nothing
    with config.path.open("a", encoding="utf-8") as handle:
        handle.write("http:\n  listen: 127.0.0.1:9999\n")
    assert files.config().http is not None and files.config().http.port == 9999  # type: ignore[union-attr]


def article(number: int) -> StoredArticle:
    return StoredArticle(number, Article(
        url=f"https://x.example/{number}", canonical_url=f"https://x.example/{number}",
        feed="f" if number % 2 else "g", site="x.example", title=f"Minsk talks {number}",
        description="", paragraphs=("Talks in Minsk went on.",),
        fetched=datetime(2026, 1, 1, tzinfo=UTC)), None)


def test_try_on_counts_everything_or_stops_at_its_limits() -> None:
    rule = Rule("q", "Minsk")
    archive = {n: article(n) for n in range(10, 0, -1)}
    now = [0.0]

    def walk() -> Iterator[ArticleText]:
        """The archive's texts, newest first; each takes a second to come."""
        for stored in archive.values():
            now[0] += 1
            yield ArticleText(stored.number, field_texts(stored.article))

    def load(numbers: Sequence[int]) -> dict[int, StoredArticle]:
        return {n: archive[n] for n in numbers}

    full = try_on(rule, walk(), load, keep=3)
    assert (full.scanned, full.matched, len(full.hits), full.complete) == (10, 10, 3, True)
    assert [h.stored.number for h in full.hits] == [10, 9, 8]
    assert full.per_feed == {"f": 5, "g": 5}
    early = try_on(rule, walk(), load, keep=3, stop_at_keep=True)
    assert (early.scanned, early.complete) == (3, False)
    now[0] = 0.0
    timed = try_on(rule, walk(), load, keep=100, seconds=4.5, clock=lambda: now[0])
    # the articles that came within the time, and the one that came as it ran out
    assert not timed.complete and timed.scanned == 5 and timed.oldest == 6
    late = try_on(rule, walk(), load, keep=100, seconds=0.0, clock=lambda: now[0])
    assert not late.complete and late.scanned == 1  # past its time at once: still one


def test_trial_target_prefers_a_rule_and_points_at_errors() -> None:
    rules = load_rules_from_text()
    rule, label = trial_target(rules, "wagner")
    assert label == "rule 'wagner'" and "Prigozhin" in rule.query
    assert trial_target(rules, "Minsk AND talks")[1] == "query"
    with pytest.raises(TrialTargetError) as caught:
        trial_target(rules, "wagnr)")
    assert "did you mean 'wagner'" in caught.value.message
    with pytest.raises(TrialTargetError) as caught:
        trial_target(rules, "Minsk AND (")
    assert caught.value.column == 12 and caught.value.pointer.endswith(" " * 15 + "^")


def load_rules_from_text() -> RuleSet:
    folder = Path(tempfile.mkdtemp())
    (folder / "rules.yaml").write_text(RULES, encoding="utf-8")
    return load_rules(folder / "rules.yaml")
