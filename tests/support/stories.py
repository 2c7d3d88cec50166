"""The labelled same-event groups folding is measured on (``tests/data/story-groups.json``
for the dev corpus and the seeds, ``tests/data/folding-hard-cases.json`` for the hand-written
pairs), and pairwise precision and recall of a folding against them.

Read by ``bench/bench_folding.py`` and ``tests/digest/test_folding_quality.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations
from pathlib import Path

from tests.support.data import DATA, SEEDS, ground_truth
from watcher.digest.folding import FoldText

STORY_GROUPS = DATA / "story-groups.json"
HARD_CASES = DATA / "folding-hard-cases.json"


@dataclass(frozen=True)
class Labelled:
    texts: tuple[FoldText, ...]  # newest first, as a digest folds them
    names: dict[int, str]  # key -> corpus id, seed:<file> or case:<name>:<n>
    groups: tuple[frozenset[int], ...]  # every story, singletons included
    unscored: frozenset[frozenset[int]]  # pairs a reader could call either way

    def same_event_pairs(self) -> set[frozenset[int]]:
        return {frozenset(p) for g in self.groups for p in combinations(sorted(g), 2)}


@dataclass(frozen=True)
class Scores:
    true_positive: int
    false_positive: int
    false_negative: int

    @property
    def precision(self) -> float:
        found = self.true_positive + self.false_positive
        return self.true_positive / found if found else 1.0

    @property
    def recall(self) -> float:
        wanted = self.true_positive + self.false_negative
        return self.true_positive / wanted if wanted else 1.0


def score(labelled: Labelled, folded: Iterable[Sequence[int]],
          among: frozenset[int] | None = None) -> Scores:
    """Pairwise precision and recall of ``folded`` (groups of keys) against the labels,
    counting only pairs of keys in ``among`` (default: all)."""
    keep = among if among is not None else frozenset(t.key for t in labelled.texts)
    found = {frozenset(p) for g in folded for p in combinations(sorted(g), 2)
             if set(p) <= keep} - labelled.unscored
    wanted = {p for p in labelled.same_event_pairs() if p <= keep} - labelled.unscored
    return Scores(len(found & wanted), len(found - wanted), len(wanted - found))


def load(groups_path: Path = STORY_GROUPS, cases_path: Path = HARD_CASES) -> Labelled:
    labels = json.loads(groups_path.read_text(encoding="utf-8"))
    truth = ground_truth()
    texts: list[FoldText] = []
    names: dict[int, str] = {}
    for name, article in labels["articles"].items():
        key = len(texts)
        names[key] = name
        if name.startswith("seed:"):
            body = (SEEDS / name.removeprefix("seed:")).read_text(encoding="utf-8")
            site = "independent.co.uk"
        else:
            body = article["title"] + "\n" + truth[name]["articleBody"]
            site = truth[name]["url"].split("/")[2]
        texts.append(FoldText(key, site, body.rstrip("\n"), article["title"],
                              datetime.fromisoformat(article["published"])))
    by_name = {v: k for k, v in names.items()}
    groups = [frozenset(by_name[m] for m in g["members"]) for g in labels["groups"]]
    unscored = {frozenset(by_name[m] for m in pair) for u in labels["undecided"]
                for pair in combinations(u["members"], 2)}
    for case in json.loads(cases_path.read_text(encoding="utf-8"))["cases"]:
        keys = []
        for n, article in enumerate(case["articles"]):
            key = len(texts)
            names[key] = f"case:{case['name']}:{n}"
            texts.append(FoldText(key, article["site"],
                                  article["title"] + "\n" + article["body"],
                                  article["title"],
                                  datetime.fromisoformat(article["published"])))
            keys.append(key)
        if case["expect"] == "fold":
            groups.append(frozenset(keys))
    grouped = set().union(*groups)
    groups += [frozenset([t.key]) for t in texts if t.key not in grouped]
    texts.sort(key=lambda t: (t.published, t.key), reverse=True)
    return Labelled(tuple(texts), names, tuple(groups), frozenset(unscored))
