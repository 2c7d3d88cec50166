"""Folding benchmark: pairwise precision and recall on labelled stories, and the time to
fold a flood of near-copies, against today's shingle-only folding in the same run.

    python bench/bench_folding.py [--copies 3000] [--repeat 5]

Quality: the 79 dev-corpus pages and the two seeds with their same-event groups labelled by
reading them (``tests/data/story-groups.json``), plus the hand-written hard cases
(``tests/data/folding-hard-cases.json``: one event in different words must fold; a shared
quote, wire background paragraph, site appeal or topic must not), folded as one window,
newest first, as a digest folds them. Every pair of articles counts: precision = pairs
folded that are one event / pairs folded; recall = pairs of one event folded / pairs of one
event. Pairs the labels leave undecided are not scored (their outcome is printed).

Speed: ``--copies`` near-copies of one corpus article (each with its own last line, as when
a release runs in hundreds of outlets) among two other stories, folded ``--repeat`` times by
each method in turn; medians, min and max of this process's CPU time (the figure to compare
on a shared machine, where wall time follows other load) and of wall time. The first run of
each is a warm-up (imports, wordfreq's table), reported apart.

The baseline is the rule folding used before issue 15: Jaccard of word 3-shingles >= 0.06
with at least 12 shared, on the pairs MinHash LSH proposes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.data import ground_truth  # noqa: E402
from tests.support.stories import Labelled, Scores, load, score  # noqa: E402
from watcher.digest.evidence import overlap  # noqa: E402
from watcher.digest.folding import (  # noqa: E402
    FoldText,
    candidate_pairs,
    fold_groups,
    shingles,
    union_stories,
)

PRECISION_GOAL = 0.95
RECALL_GOAL = 0.90
BASELINE_THRESHOLD = 0.06
BASELINE_MIN_SHARED = 12

Folder = Callable[[Sequence[FoldText]], list[list[int]]]


def shingle_only(texts: Sequence[FoldText]) -> list[list[int]]:
    """Folding as it was before issue 15: one shingle threshold."""
    sets = {t.key: shingles(t.text) for t in texts}

    def same(a: int, b: int) -> bool:
        found = overlap(sets[a], sets[b])
        return found.shared >= BASELINE_MIN_SHARED and found.jaccard >= BASELINE_THRESHOLD

    return union_stories([t.key for t in texts], [candidate_pairs(sets)], same)


def evidence(texts: Sequence[FoldText]) -> list[list[int]]:
    return fold_groups(texts)


METHODS: dict[str, Folder] = {"evidence (issue 15)": evidence, "shingles only": shingle_only}


def flood(copies: int) -> list[FoldText]:
    truth = [v["articleBody"] for v in ground_truth().values()]
    release, other, third = truth[0], truth[5], truth[10]
    texts = [FoldText(0, "a.example", other, "Water plumes above Europa")]
    texts += [FoldText(n, f"outlet{n}.example", f"{release}\nFiled by desk {n}.",
                       "Attorney General investigating WeWork") for n in range(1, copies + 1)]
    texts.append(FoldText(copies + 1, "b.example", third, "Jangan membenci"))
    return texts


def quality(labelled: Labelled) -> dict[str, Scores]:
    out: dict[str, Scores] = {}
    cases = frozenset(k for k, name in labelled.names.items() if name.startswith("case:"))
    everything = frozenset(labelled.names)
    for method, fold in METHODS.items():
        folded = fold(labelled.texts)
        for part, among in (("corpus + seeds", everything - cases), ("hard cases", cases),
                            ("all", everything)):
            out[f"{method}|{part}"] = score(labelled, folded, among)
        print(f"\n{method}:")
        wanted = labelled.same_event_pairs()
        pairs = {frozenset((a, b)) for g in folded for a in g for b in g if a < b}
        for pair in sorted(wanted - pairs - labelled.unscored, key=sorted):
            print("  missed    ", " + ".join(labelled.names[k] for k in sorted(pair)))
        for pair in sorted(pairs - wanted - labelled.unscored, key=sorted):
            print("  wrong fold", " + ".join(labelled.names[k] for k in sorted(pair)))
        for pair in sorted(labelled.unscored, key=sorted):
            state = "folded" if pair in pairs else "apart"
            print(f"  undecided  {' + '.join(labelled.names[k] for k in sorted(pair))}: {state}")
    return out


def timed(fold: Folder, texts: Sequence[FoldText]) -> tuple[float, float, int]:
    """Wall time, CPU time of this process, and the number of stories."""
    wall, cpu = time.perf_counter(), time.process_time()
    groups = fold(texts)
    return time.perf_counter() - wall, time.process_time() - cpu, len(groups)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    labelled = load()
    pairs = len(labelled.same_event_pairs() - labelled.unscored)
    print(f"labelled: {len(labelled.texts)} articles, {len(labelled.groups)} stories, "
          f"{pairs} same-event pairs, {len(labelled.unscored)} undecided")
    scores = quality(labelled)
    print(f"\n{'method':<22}{'articles':<16}{'precision':>10}{'recall':>8}"
          f"{'tp':>5}{'fp':>5}{'fn':>5}")
    for name, s in scores.items():
        method, part = name.split("|")
        print(f"{method:<22}{part:<16}{s.precision:>10.3f}{s.recall:>8.3f}"
              f"{s.true_positive:>5}{s.false_positive:>5}{s.false_negative:>5}")
    best = scores["evidence (issue 15)|all"]
    print(f"goal precision >= {PRECISION_GOAL}: {'met' if best.precision >= PRECISION_GOAL else 'MISSED'}; "  # noqa: E501
          f"recall >= {RECALL_GOAL}: {'met' if best.recall >= RECALL_GOAL else 'MISSED'}")

    texts = flood(args.copies)
    print(f"\nflood: {args.copies} near-copies among 2 other stories, {args.repeat} runs each")
    walls: dict[str, list[float]] = {name: [] for name in METHODS}
    cpus: dict[str, list[float]] = {name: [] for name in METHODS}
    for name, fold in METHODS.items():
        wall, cpu, stories = timed(fold, texts)
        print(f"  warm-up {name}: {wall:.2f} s wall, {cpu:.2f} s CPU, {stories} stories")
    for _ in range(args.repeat):
        for name, fold in METHODS.items():  # alternated, so drift hits both alike
            wall, cpu, stories = timed(fold, texts)
            if stories != 3:
                raise SystemExit(f"{name} folded the flood into {stories} stories, not 3")
            walls[name].append(wall)
            cpus[name].append(cpu)
    for label, runs_by_method in (("CPU", cpus), ("wall", walls)):
        for name, runs in runs_by_method.items():
            print(f"  {label:<5}{name:<22}median {statistics.median(runs):.2f} s  "
                  f"(min {min(runs):.2f}, max {max(runs):.2f})")
        ratio = (statistics.median(runs_by_method["evidence (issue 15)"])
                 / statistics.median(runs_by_method["shingles only"]))
        print(f"  {label:<5}evidence / shingles only: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
