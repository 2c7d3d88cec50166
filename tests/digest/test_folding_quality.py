"""Folding against the labelled same-event groups (tests/data/story-groups.json, the dev
corpus and the seeds, labelled by reading them) and the hand-written hard cases
(tests/data/folding-hard-cases.json). Untimed: speed is bench/bench_folding.py's job."""

from __future__ import annotations

import json
from dataclasses import replace
from functools import cache

import pytest

from tests.support.stories import HARD_CASES, Labelled, load, score
from watcher.digest.folding import FoldMemory, fold_groups

PRECISION_FLOOR = 0.95
RECALL_FLOOR = 0.90


@cache
def labelled() -> Labelled:
    return load()


@cache
def folded() -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(g) for g in fold_groups(labelled().texts))


def test_pairwise_precision_and_recall_meet_the_floors() -> None:
    scores = score(labelled(), folded())
    assert scores.true_positive >= 10  # the measure means something: enough pairs to find
    assert scores.precision >= PRECISION_FLOOR, scores
    assert scores.recall >= RECALL_FLOOR, scores


def test_the_dev_corpus_alone_keeps_every_different_story_apart() -> None:
    corpus = frozenset(k for k, n in labelled().names.items() if not n.startswith("case:"))
    scores = score(labelled(), folded(), corpus)
    assert scores.false_positive == 0, scores
    assert scores.recall >= RECALL_FLOOR, scores


CASES = json.loads(HARD_CASES.read_text(encoding="utf-8"))["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_hard_case(case: dict[str, object]) -> None:
    members = {k for k, name in labelled().names.items()
               if name.startswith(f"case:{case['name']}:")}
    assert len(members) == 2
    together = any(members <= set(g) for g in folded())
    assert together == (case["expect"] == "fold"), case["reason"]


def test_a_fold_memory_changes_no_fold_across_overlapping_windows() -> None:
    """The web pages fold overlapping windows with one ``FoldMemory``: each window must
    fold as it does alone, and a changed text must not be judged by an old verdict."""
    texts = labelled().texts
    memory = FoldMemory(articles=40, pairs=400)  # small: entries are evicted on the way
    for start in range(0, len(texts) - 30, 7):
        window = texts[start:start + 30]
        assert fold_groups(window, memory=memory) == fold_groups(window)
    first, second = texts[0], texts[1]
    alone = fold_groups([first, second])
    twin = replace(second, text=first.text, title=first.title, published=first.published)
    assert fold_groups([first, second], memory=memory) == alone
    assert fold_groups([first, twin], memory=memory) == fold_groups([first, twin])
    assert len(fold_groups([first, twin])) == 1  # a copy under the old number: one story
