"""One item per story: fold updated versions and wire copies of one article together.

Each article becomes a set of word 3-shingles (NFKC, case-folded ``\\w+`` tokens) over its
title, standfirst and body, minus the site's boilerplate paragraphs (appeals, newsletter
boxes). Which paragraphs those are is not worked out here: ingestion already learns them
per site (``watcher.store.boilerplate``, ``watcher.extract.boilerplate.fingerprints``) and
the caller passes each site's known fingerprints in. Two articles are one story when the
Jaccard similarity of their sets reaches ``FOLD_THRESHOLD`` and they share at least
``MIN_SHARED`` shingles: the threshold is low (long rewrites of one story share little), so
on short texts (feed summaries) a common phrase such as "the MI6 chief said" alone would
pass it.

datasketch's MinHash LSH proposes the candidate pairs, so a large window stays near
linear; each proposal is then checked with the exact Jaccard of the two sets, so the
MinHash estimation error (about ±0.03 at 128 permutations) never decides a fold.

The threshold and its measurement on real articles are in docs/digests.md.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from watcher.extract.boilerplate import remove_boilerplate

SHINGLE_WORDS = 3
FOLD_THRESHOLD = 0.06  # exact Jaccard of word 3-shingle sets; see docs/digests.md
MIN_SHINGLES = 8  # texts shorter than this never fold: too little evidence
MIN_SHARED = 12  # shingles two articles must share to fold, whatever their Jaccard
NUM_PERM = 128
# LSH only proposes pairs; it is set well below the fold threshold so that a pair at the
# threshold is proposed with near certainty, and the exact check decides.
LSH_THRESHOLD = FOLD_THRESHOLD / 2

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class FoldText:
    """What folding looks at for one article."""

    key: int  # article number
    site: str
    text: str  # title, description and body, one paragraph per line


def words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(unicodedata.normalize("NFKC", text))]


def shingles(text: str, boilerplate: frozenset[str] = frozenset(),
             k: int = SHINGLE_WORDS) -> frozenset[str]:
    """The word k-shingles of ``text`` once the paragraphs (lines) whose fingerprint is in
    ``boilerplate`` are dropped."""
    tokens = words("\n".join(remove_boilerplate(text.split("\n"), boilerplate)))
    if len(tokens) < k:
        return frozenset([" ".join(tokens)]) if tokens else frozenset()
    return frozenset(" ".join(tokens[i:i + k]) for i in range(len(tokens) - k + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def same_story(a: frozenset[str], b: frozenset[str],
               threshold: float = FOLD_THRESHOLD) -> bool:
    return len(a & b) >= MIN_SHARED and jaccard(a, b) >= threshold


def fold_groups(texts: Sequence[FoldText], *,
                boilerplate: Mapping[str, frozenset[str]] | None = None,
                threshold: float = FOLD_THRESHOLD) -> list[list[int]]:
    """Partition ``texts`` (by key) into stories; groups keep the input order.

    ``boilerplate``: per site, the paragraph fingerprints ingestion learned to be the
    site's boilerplate (``BoilerplateStore.known``). Without it two distinct articles
    carrying the same long appeal could fold on the appeal alone.
    """
    known = boilerplate or {}
    sets = {t.key: shingles(t.text, known.get(t.site, frozenset())) for t in texts}
    parent = {t.key: t.key for t in texts}

    def root(key: int) -> int:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    # The earlier (newer) article of a pair stays the root, so it leads its story.
    position = {t.key: i for i, t in enumerate(texts)}
    for a, b in candidate_pairs(sets):
        ra, rb = sorted((root(a), root(b)), key=position.__getitem__)
        # Already one story: comparing the pair changes nothing. A flood of near-copies (one
        # release in hundreds of outlets) would otherwise compare every pair of them.
        if ra != rb and same_story(sets[a], sets[b], threshold):
            parent[rb] = ra
    groups: dict[int, list[int]] = {}
    for t in texts:
        groups.setdefault(root(t.key), []).append(t.key)
    return list(groups.values())


def candidate_pairs(sets: Mapping[int, frozenset[str]]) -> Iterator[tuple[int, int]]:
    """The pairs ``(a, b)``, ``a < b``, that MinHash LSH proposes as near-duplicates, each
    once, in sorted order. Yielded key by key: a flood of near-copies has a quadratic number
    of pairs (4.5 million for 3,000), which must never be held all at once."""
    usable = {k: s for k, s in sets.items() if len(s) >= MIN_SHINGLES}
    if len(usable) < 2:
        return
    # Imported here: datasketch pulls in scipy, which every command (watcher check, rules
    # test) would otherwise load at start-up; only building a digest needs it.
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
    hashes: dict[int, MinHash] = {}
    for key, items in usable.items():
        m = MinHash(num_perm=NUM_PERM, seed=1)
        m.update_batch([s.encode("utf-8") for s in sorted(items)])
        hashes[key] = m
        lsh.insert(key, m)
    # LSH is symmetric (a shares a band with b exactly when b shares it with a), so each
    # pair is met from its smaller key.
    for key in sorted(hashes):
        for other in sorted(o for o in lsh.query(hashes[key]) if o > key):
            yield key, other
