"""One item per story: fold the reports of one event together, across outlets.

An article's text is its title, standfirst and body minus the site's boilerplate paragraphs
(ingestion learns those per site, ``watcher.store.boilerplate``; the caller passes each
site's known fingerprints in). Two articles are one story when the evidence says so
(``watcher.digest.evidence`` has each piece; thresholds and their measurement are in
docs/digests.md, from bench/bench_folding.py):

1. **A copy**: the shared word 3-shingles cover most of the smaller article (wire copies,
   updated versions, a release run by many outlets).
2. **Shared text beyond one passage**: the shingle rule (Jaccard and a minimum of shared
   shingles), computed with the longest shared passage taken out when it is most of the
   overlap, so a long quote, a wire background paragraph or an appeal alone folds nothing,
   while the many scattered shared runs of two write-ups of one story still count.
3. **One event in different words**: titles that share rare words, and rare words and names
   in common across the text and its lead, counted outside the shared passages.

Articles published more than ``MAX_HOURS_APART`` apart are different stories unless one is
a copy of the other. Folds are transitive (union-find).

Candidate pairs come from two indexes, so the window never compares every pair: datasketch's
MinHash LSH proposes pairs with shared text (checked exactly, so MinHash's estimation error
never decides a fold), and an inverted index of each article's rare title and lead words
proposes pairs reported in different words.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TypeVar

from watcher.digest.evidence import (
    Passages,
    headline_in_lead,
    hours_apart,
    overlap,
    passages,
    rare_weights,
    shingle_list,
    stems,
    weighted_jaccard,
    words,
)
from watcher.extract.boilerplate import remove_boilerplate

FOLD_THRESHOLD = 0.06  # Jaccard of word 3-shingles, the longest shared passage left out
MIN_SHINGLES = 8  # texts shorter than this never fold on shared text: too little evidence
MIN_SHARED = 12  # shingles two articles must share to fold on shared text
# Rule 2: when one passage holds this share of the shared shingles, the overlap is that
# passage, and it is taken out before the Jaccard is computed.
ONE_PASSAGE = 0.5
NEAR_COPY = 0.6  # share of the smaller article covered by shared text: a copy
MAX_HOURS_APART = 72.0
# Rule 3: the rare words in common outside shared passages (``event_words``) an event
# needs, by how many rare headline words each one's lead carries of the other's (the fewer
# of the two; the last entry for that many or more), scaled up by
# (1 + hours apart / TIME_SCALE_HOURS): the fewer the headline shares, the more the rest must.
EVENT_WORDS_NEEDED = (0.45, 0.30, 0.15)
TIME_SCALE_HOURS = 72.0
MIN_EVENT_TOKENS = 50  # words each article needs for rule 3
LEAD_WORDS = 80  # the lead: the first words (the title comes first in an article's text)
MIN_HEADLINE_WORDS = 2  # headline words found in the other's lead, to be compared on rule 3
# A word in the leads of more articles than this names no single event in the window (a
# flood of copies, a topic of the day); it proposes no pairs, which keeps the index small.
MAX_POSTINGS = 50
NUM_PERM = 128
# LSH only proposes pairs; it is set well below the fold threshold so that a pair at the
# threshold is proposed with near certainty, and the exact check decides.
LSH_THRESHOLD = FOLD_THRESHOLD / 2
# Up to this many texts every pair is checked exactly, without MinHash: setting up LSH
# costs more than all the pairs of a small window (a web page of matches, a quiet digest),
# and the exact check is what decides a fold either way. docs/web.md has the measurement.
ALL_PAIRS_UP_TO = 64

V = TypeVar("V")


@dataclass(frozen=True)
class FoldText:
    """What folding looks at for one article."""

    key: int  # article number
    site: str
    text: str  # title, description and body, one paragraph per line
    title: str = ""
    published: datetime | None = None


@dataclass
class _Prepared:
    """One article's text, worked out once per fold; the costlier parts only when a pair
    needs them."""

    tokens: list[str]
    published: datetime | None
    title: str
    order: list[str] = field(init=False)
    shingles: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        self.order = shingle_list(self.tokens)
        self.shingles = frozenset(self.order)

    @cached_property
    def title_stems(self) -> Mapping[str, float]:
        return stems(tuple(words(self.title)))

    @cached_property
    def lead_stems(self) -> Mapping[str, float]:
        return stems(tuple(self.tokens[:LEAD_WORDS]))

    @cached_property
    def rare(self) -> tuple[dict[str, float], dict[str, float]]:
        """``rare_weights`` of the whole text and of its lead: what rule 3 compares when no
        passage is shared, which is most pairs, so it is worked out once per article rather
        than once per pair."""
        return rare_weights(self.tokens), rare_weights(self.tokens[:LEAD_WORDS])


def shingles(text: str, boilerplate: frozenset[str] = frozenset()) -> frozenset[str]:
    """The word 3-shingles of ``text`` once the paragraphs (lines) whose fingerprint is in
    ``boilerplate`` are dropped."""
    return frozenset(shingle_list(_tokens(text, boilerplate)))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return overlap(a, b).jaccard


def _tokens(text: str, boilerplate: frozenset[str]) -> list[str]:
    return words("\n".join(remove_boilerplate(text.split("\n"), boilerplate)))


# Two texts with no shingle in common share no passage. Its ``outside`` stays empty:
# ``_outside_weights`` reads an article's own words whenever nothing was left out.
NO_PASSAGES = Passages(0, 0, ())


def same_story(a: _Prepared, b: _Prepared, threshold: float = FOLD_THRESHOLD) -> bool:
    """Whether ``a`` and ``b`` report one event (the rules in the module's docstring)."""
    shared = overlap(a.shingles, b.shingles)
    enough_text = (shared.shared >= MIN_SHARED and len(a.shingles) >= MIN_SHINGLES
                   and len(b.shingles) >= MIN_SHINGLES)
    if enough_text and shared.coverage >= NEAR_COPY:
        return True
    apart = hours_apart(a.published, b.published)
    if apart is not None and apart > MAX_HOURS_APART:
        return False
    if shared.shared:
        in_a = passages(a.tokens, a.order, b.shingles)
        in_b = passages(b.tokens, b.order, a.shingles)
    else:  # nothing shared: no runs, every word is outside them
        in_a = in_b = NO_PASSAGES
    if enough_text:
        longest = max(in_a.longest, in_b.longest)
        if longest < shared.shared * ONE_PASSAGE:
            longest = 0  # many passages, none of them most of the overlap: all of it counts
        beyond = shared.shared - longest
        union = len(a.shingles) + len(b.shingles) - shared.shared - longest
        if beyond >= MIN_SHARED and beyond / union >= threshold:
            return True
    if min(len(a.tokens), len(b.tokens)) < MIN_EVENT_TOKENS:
        return False  # a feed summary's handful of names says too little about the event
    in_title = min(headline_in_lead(a.title_stems, b.lead_stems),
                   headline_in_lead(b.title_stems, a.lead_stems))
    needed = EVENT_WORDS_NEEDED[min(in_title, len(EVENT_WORDS_NEEDED) - 1)]
    needed *= 1 + (apart or 0.0) / TIME_SCALE_HOURS
    return event_words(_outside_weights(a, in_a), _outside_weights(b, in_b)) >= needed


def _outside_weights(article: _Prepared, found: Passages
                     ) -> tuple[dict[str, float], dict[str, float]]:
    if not found.in_passages:  # no passage left out: the words outside are all of them
        return article.rare
    return rare_weights(found.outside), rare_weights(found.outside[:LEAD_WORDS])


def event_words(a: tuple[Mapping[str, float], Mapping[str, float]],
                b: tuple[Mapping[str, float], Mapping[str, float]]) -> float:
    """Rare words in common between two texts (words outside shared passages), given as
    each text's ``rare_weights``, whole and of its lead: the weighted Jaccard of the whole
    texts plus half that of their leads, where an event's names sit."""
    return weighted_jaccard(a[0], b[0]) + weighted_jaccard(a[1], b[1]) / 2


def fold_groups(texts: Sequence[FoldText], *,
                boilerplate: Mapping[str, frozenset[str]] | None = None,
                threshold: float = FOLD_THRESHOLD,
                memory: FoldMemory | None = None) -> list[list[int]]:
    """Partition ``texts`` (by key) into stories; groups keep the input order.

    ``memory``: what earlier folds worked out (``FoldMemory``), for a caller folding
    overlapping windows again and again; the result is the same without it.

    ``boilerplate``: per site, the paragraph fingerprints ingestion learned to be the
    site's boilerplate (``BoilerplateStore.known``). Without it two distinct articles
    carrying the same long appeal could look alike.
    """
    known = boilerplate or {}
    if memory is None:
        prepared = {t.key: _Prepared(_tokens(t.text, known.get(t.site, frozenset())),
                                     t.published, t.title) for t in texts}

        def same(a: int, b: int) -> bool:
            return same_story(prepared[a], prepared[b], threshold)
    else:
        remembered = {t.key: memory.prepared(t, known.get(t.site, frozenset())) for t in texts}
        prepared = {key: found for key, (_, found) in remembered.items()}

        def same(a: int, b: int) -> bool:
            return memory.verdict((remembered[a][0], remembered[b][0], threshold),
                                  lambda: same_story(prepared[a], prepared[b], threshold))
    sets = {key: p.shingles for key, p in prepared.items()}
    return union_stories([t.key for t in texts],
                         (candidate_pairs(sets), event_pairs(prepared)), same)


class FoldMemory:
    """What folding worked out, kept from one fold to the next: each article's prepared
    text and each pair's verdict, keyed by their content (a digest of the article's text,
    title and time, and the site's boilerplate), so a changed article is never judged by
    an old verdict. The web pages fold overlapping windows over and over (a new match
    moves the front page by one article); with a memory only the new article's pairs are
    judged. Both are bounded, least recently used first out; safe across threads."""

    def __init__(self, articles: int = 512, pairs: int = 32768) -> None:
        self.articles = articles
        self.pairs = pairs
        self._prepared: OrderedDict[Hashable, _Prepared] = OrderedDict()
        self._verdicts: OrderedDict[Hashable, bool] = OrderedDict()
        self._lock = threading.Lock()

    def prepared(self, text: FoldText, boilerplate: frozenset[str]
                 ) -> tuple[Hashable, _Prepared]:
        content = hashlib.blake2b(digest_size=16)
        for part in (text.text, text.title, str(text.published)):
            content.update(part.encode("utf-8", "surrogatepass") + b"\0")
        key = (text.key, content.digest(), boilerplate)
        with self._lock:
            found = self._prepared.get(key)
            if found is not None:
                self._prepared.move_to_end(key)
                return key, found
        found = _Prepared(_tokens(text.text, boilerplate), text.published, text.title)
        _remember(self._lock, self._prepared, key, found, self.articles)
        return key, found

    def verdict(self, key: Hashable, judge: Callable[[], bool]) -> bool:
        with self._lock:
            found = self._verdicts.get(key)
            if found is not None:
                self._verdicts.move_to_end(key)
                return found
        found = judge()
        _remember(self._lock, self._verdicts, key, found, self.pairs)
        return found


def _remember(lock: threading.Lock, entries: OrderedDict[Hashable, V], key: Hashable,
              value: V, size: int) -> None:
    with lock:
        entries[key] = value
        while len(entries) > size:
            entries.popitem(last=False)


def union_stories(keys: Sequence[int], pair_sources: Iterable[Iterable[tuple[int, int]]],
                  same: Callable[[int, int], bool]) -> list[list[int]]:
    """Join the candidate pairs that ``same`` accepts into stories (union-find); groups keep
    the order of ``keys``, and the first key of a story leads it."""
    parent = {key: key for key in keys}

    def root(key: int) -> int:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    # The earlier (newer) article of a pair stays the root, so it leads its story.
    position = {key: i for i, key in enumerate(keys)}
    for pairs in pair_sources:
        for a, b in pairs:
            ra, rb = sorted((root(a), root(b)), key=position.__getitem__)
            # Already one story: comparing the pair changes nothing. A flood of near-copies
            # (one release in hundreds of outlets) would otherwise compare every pair.
            if ra != rb and same(a, b):
                parent[rb] = ra
    groups: dict[int, list[int]] = {}
    for key in keys:
        groups.setdefault(root(key), []).append(key)
    return list(groups.values())


def event_pairs(prepared: Mapping[int, _Prepared]) -> Iterator[tuple[int, int]]:
    """The pairs ``(a, b)``, ``a < b``, where each one's lead carries at least
    ``MIN_HEADLINE_WORDS`` rare words of the other's headline (both ways together), in
    sorted order."""
    postings: dict[str, list[int]] = {}
    for key in sorted(prepared):
        for stem in prepared[key].lead_stems:
            postings.setdefault(stem, []).append(key)
    shared: Counter[tuple[int, int]] = Counter()
    for key in sorted(prepared):
        for stem in prepared[key].title_stems:
            others = postings.get(stem, ())
            if len(others) <= MAX_POSTINGS:
                shared.update((min(key, o), max(key, o)) for o in others if o != key)
    yield from sorted(pair for pair, count in shared.items() if count >= MIN_HEADLINE_WORDS)


def candidate_pairs(sets: Mapping[int, frozenset[str]]) -> Iterator[tuple[int, int]]:
    """The pairs ``(a, b)``, ``a < b``, that MinHash LSH proposes as near-duplicates (every
    pair, up to ``ALL_PAIRS_UP_TO`` texts), each once, in sorted order. Yielded key by key: a
    flood of near-copies has a quadratic number of pairs (4.5 million for 3,000), which must
    never be held all at once."""
    usable = {k: s for k, s in sets.items() if len(s) >= MIN_SHINGLES}
    if len(usable) < 2:
        return
    if len(usable) <= ALL_PAIRS_UP_TO:
        keys = sorted(usable)
        for index, key in enumerate(keys):
            for other in keys[index + 1:]:
                yield key, other
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
    # pair is met from its smaller key; a key is taken out of the index once queried, so
    # later queries only return keys still to come (a flood's buckets shrink as it goes).
    for key in sorted(hashes):
        found = lsh.query(hashes[key])
        lsh.remove(key)
        for other in sorted(o for o in found if o > key):
            yield key, other
