"""One article scanned for compiled rules: its fields split and folded once, one automaton pass
per field, and answers about sub-queries memoised for every rule of one match.

Whatever needs positions (NEAR, ``=US``, ``min_hits``) and regexes goes through
``Scan.leaf``, shared by every rule using the same sub-query. Hits are built only for the
rules that matched: where an atom is (its automaton hits, sorted by atom on first need) and
the text offsets of its hits (arithmetic: see ``text.Words``) are worked out once per
article, and one term's hits are shared by every rule that reports it.
"""

from __future__ import annotations

import logging
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from fnmatch import fnmatchcase
from itertools import chain
from operator import itemgetter

from watcher.rules.compiler import CompiledRules, TermInfo, TermPlan
from watcher.rules.positions import (
    NEAR_PAIR_BUDGET,
    REGEX_BUDGET,
    HitKey,
    Occurrence,
    Part,
    near_occurrences,
    search_pattern,
)
from watcher.rules.query import TEXT_FIELDS, Meta, Near, Pattern, Term
from watcher.rules.text import Words, nfc, words
from watcher.types import Article, Hit

log = logging.getLogger(__name__)

# Hit is a named tuple: tuple.__new__ builds one in C, where calling the class runs its
# Python-level __new__ (a frame each; a scan builds one per hit).
_new = tuple.__new__
_atom_of = itemgetter(1)
_end_of = itemgetter(0)
_NOTHING: frozenset[int] = frozenset()


def field_texts(article: Article) -> tuple[str, str, str, str, str]:
    """The article's text fields, in the order of ``TEXT_FIELDS``."""
    return (article.title, article.description, article.body, article.url, article.author)


class Scan:
    """One article, split and folded once, with every automaton hit of ``rules``. Answers
    questions about sub-queries (by id, see ``CompiledRules``) and memoises them; not shared
    between threads (``RuleSet.match`` makes one per call)."""

    def __init__(self, rules: CompiledRules, article: Article) -> None:
        self.rules = rules
        self.article = article
        self.texts = field_texts(article)
        self.words: list[Words | None] = []
        # Per field, the automaton's (end, atom) hits and the set of atoms, built by C code
        # (list, set, map); the hits are sorted by atom only when a position is asked for.
        self.hits: list[list[tuple[int, int]]] = []
        # per field, the atom of each hit once the hits are sorted by atom (for bisect)
        self._order: list[list[int] | None] = [None] * len(self.texts)
        self.atoms: list[set[int] | frozenset[int]] = []
        self._positions: dict[int, list[tuple[int, int]]] = {}
        self._written: dict[int, str] = {}  # per field, the text in NFC (see _may_have_case)
        self._leaf: dict[int, bool] = {}
        self._occurrences: dict[int, list[Occurrence]] = {}
        self._leaf_hits: dict[int, tuple[Hit, ...]] = {}
        self._term_hits_cache: dict[int, tuple[Hit, ...]] = {}  # by the plans' hit ids
        self._regex_hits: dict[int, dict[HitKey, Hit]] = {}
        self._regex_left = REGEX_BUDGET
        self._near_left = NEAR_PAIR_BUDGET
        automaton = rules.automaton
        used = rules.fields_used
        for index, text in enumerate(self.texts):
            found = Words(text) if text and index in used else None
            self.words.append(found)
            if automaton is None or found is None or found.empty:
                self.hits.append([])
                self.atoms.append(_NOTHING)
                continue
            hits = list(automaton.iter(found.joined, ignore_white_space=True))
            self.hits.append(hits)
            self.atoms.append(set(map(_atom_of, hits)) if hits else _NOTHING)
        # the atoms found in the default fields (title, summary, body), and in any
        self.default = self.atoms[0] | self.atoms[1] | self.atoms[2]
        self.present = (self.default.union(self.atoms[3], self.atoms[4])
                        if self.atoms[3] or self.atoms[4] else self.default)

    def positions(self, atom: int) -> list[tuple[int, int]]:
        """(field, end offset) of every hit of ``atom``, in text order."""
        found = self._positions.get(atom)
        if found is None:
            found = [(field, end) for field, atoms in enumerate(self.atoms) if atom in atoms
                     for end in self._ends(field, atom)]
            self._positions[atom] = found
        return found

    def _ends(self, field: int, atom: int) -> list[int]:
        """End offsets of the hits of ``atom`` in ``field``, in order."""
        hits, low, high = self._hits_of(field, atom)
        return list(map(_end_of, hits[low:high]))

    def _count(self, field: int, atom: int) -> int:
        _, low, high = self._hits_of(field, atom)
        return high - low

    def _hits_of(self, field: int, atom: int) -> tuple[list[tuple[int, int]], int, int]:
        """The automaton hits of ``field`` and where those of ``atom`` are in them."""
        hits, order = self.hits[field], self._order[field]
        if order is None:
            hits.sort(key=_atom_of)  # stable: each atom's hits stay in text order
            order = self._order[field] = list(map(_atom_of, hits))
        low = bisect_left(order, atom)
        return hits, low, bisect_right(order, atom, low)

    # -- leaves --------------------------------------------------------------------------------

    def leaf(self, leaf_id: int) -> bool:
        """Whether leaf ``leaf_id`` holds (called by the generated tests)."""
        cached = self._leaf.get(leaf_id)
        if cached is None:
            node_id, threshold = self.rules.leaves[leaf_id]
            cached = self._leaf[leaf_id] = self.holds(node_id, threshold)
        return cached

    def holds(self, node_id: int, threshold: int) -> bool:
        """Whether sub-query ``node_id`` occurs at least ``threshold`` times (or, for
        metadata, holds)."""
        node = self.rules.nodes[node_id]
        if isinstance(node, Meta):
            return meta_holds(node, self.article)  # the rule tests use metadata_holding
        if isinstance(node, Pattern):
            return len(self.pattern_hits(node_id)) >= threshold
        if isinstance(node, Term):
            # A term's hits are distinct places, so they are counted (up to the threshold),
            # without working out where each is in words as NEAR needs.
            info = self.rules.term_info[node_id]
            if node.case_sensitive:
                return self._count_written_so(node, info, threshold) >= threshold
            atom, wanted = info.atom, info.fields
            return sum(self._count(field, atom) for field, atoms in enumerate(self.atoms)
                       if (1 << field) & wanted and atom in atoms) >= threshold
        return _distinct(self.occurrences(node_id)) >= threshold

    def _count_written_so(self, term: Term, info: TermInfo, enough: int) -> int:
        """How many hits of a case-sensitive term are written as in the query, counted up
        to ``enough``."""
        atom, length, size, wanted, head = info
        wanted &= self._case_fields(term, atom)
        count = 0
        for field, end in self.positions(atom):
            if (1 << field) & wanted:
                start = self._words(field).start(end, length, size, head)
                if self._same_case(term, field, start, self._term_stop(field, end, term.prefix)):
                    count += 1
                    if count >= enough:
                        break
        return count

    def occurrences(self, node_id: int) -> list[Occurrence]:
        """Where a positional sub-query (term, NEAR, OR of those) occurs, in words."""
        found = self._occurrences.get(node_id)
        if found is None:
            info = self.rules.term_info.get(node_id)
            node = self.rules.nodes[node_id]
            if info is not None:
                assert isinstance(node, Term)
                found = self._term_occurrences(node_id, node, info)
            elif isinstance(node, Near):
                found = self._near_occurrences(node_id, node)
            else:
                found = []
                for child in self.rules.children[node_id]:
                    found.extend(self.occurrences(child))
            self._occurrences[node_id] = found
        return found

    def _words(self, field: int) -> Words:
        found = self.words[field]
        assert found is not None  # the automaton found something there
        return found

    def _term_stop(self, field: int, end: int, prefix: bool) -> int:
        """Where a hit of an atom ending at ``end`` stops in the automaton string: at the
        closing bar, or for a prefix at the end of the word it begins."""
        return self._words(field).joined.find("|", end + 1) if prefix else end

    def _term_occurrences(self, node_id: int, term: Term, info: TermInfo) -> list[Occurrence]:
        atom, length, size, wanted, head = info
        result: list[Occurrence] = []
        prefix = term.prefix
        if term.case_sensitive:
            wanted &= self._case_fields(term, atom)
        counted = (-1, 0, -1)  # field, offset, word number there: positions come in order
        for field, end in self.positions(atom):
            if not (1 << field) & wanted:
                continue
            found = self._words(field)
            start = found.start(end, length, size, head)
            stop = self._term_stop(field, end, prefix)
            if term.case_sensitive and not self._same_case(term, field, start, stop):
                continue
            first = (found.index(start, *counted[1:]) if counted[0] == field
                     else found.index(start))
            counted = (field, start, first)
            result.append(Occurrence(field, first, first + size, (Part(node_id, start, stop),)))
        return result

    def _case_fields(self, term: Term, atom: int) -> int:
        """The bits of the fields that may hold a case-sensitive term as written."""
        return sum(1 << field for field, atoms in enumerate(self.atoms)
                   if atom in atoms and self._may_have_case(term, field))

    def _may_have_case(self, term: Term, field: int) -> bool:
        """Whether each word of a case-sensitive term is in the field as written, anywhere:
        a check in C that spares comparing the case of each hit of ``=US`` or ``=WHO`` (whose
        folded forms are in nearly every article) when the text has none written so."""
        written = self._written.get(field)
        if written is None:
            text = self.texts[field] or ""
            # words are compared in NFC; NFC never joins a word to what is around it
            written = self._written[field] = text if text.isascii() else nfc(text)
        return all(word in written for word in term.originals)

    def _same_case(self, term: Term, field: int, start: int, stop: int) -> bool:
        found = self._words(field)
        begin, end = found.span(start, stop)
        if found.aligned and len(term.originals) == 1:
            # One word in text on a code page: the slice is the word as written, in NFC (a
            # code page has no combining marks), as ``=US`` is checked against each "us".
            word, original = self.texts[field][begin:end], term.originals[0]
            return word.startswith(original) if term.prefix else word == original
        written = [nfc(w) for w in words(self.texts[field][begin:end])]
        if len(written) < len(term.words):  # pragma: no cover - the automaton found them
            return False
        if written[:-1] != list(term.originals[:-1]):
            return False
        if term.prefix:
            return written[-1].startswith(term.originals[-1])
        return written[-1] == term.originals[-1]

    def _near_occurrences(self, node_id: int, near: Near) -> list[Occurrence]:
        left_id, right_id = self.rules.children[node_id]
        found, examined = near_occurrences(self.occurrences(left_id), self.occurrences(right_id),
                                           near, self._near_left)
        if examined > self._near_left > 0:  # said once per article
            log.warning("NEAR pair budget spent on %s: a %sNEAR/%d judged on its first %d "
                        "pairs, and any NEAR after it on fewer", self.article.url,
                        "O" if near.ordered else "", near.distance, examined)
        self._near_left -= examined
        return found

    def pattern_hits(self, node_id: int) -> dict[HitKey, Hit]:
        """Regex matches, each field searched with a time limit (see REGEX_BUDGET)."""
        cached = self._regex_hits.get(node_id)
        if cached is None:
            pattern = self.rules.nodes[node_id]
            assert isinstance(pattern, Pattern)
            cached, self._regex_left = search_pattern(pattern, self.texts, self._regex_left,
                                                      self.article.url)
            self._regex_hits[node_id] = cached
        return cached

    # -- hits ----------------------------------------------------------------------------------

    def rule_hits(self, plans: tuple[TermPlan, ...], others: tuple[int, ...], overlap: bool
                  ) -> tuple[Hit, ...]:
        """The hits of a matched rule's non-negated leaves that hold, in text order: ``plans``
        for its plain terms, the ids of the others (see ``Report``)."""
        present, cache = self.present, self._term_hits_cache
        found: list[tuple[Hit, ...]] = []
        for plan in plans:
            atom, hit_id, _, _, _, _, threshold, _, _ = plan
            if atom in present:
                hits = cache.get(hit_id)
                if hits is None:
                    hits = self._term_hits(plan)
                if len(hits) >= threshold:
                    found.append(hits)
        for leaf in others:
            hits = self._found(leaf)
            if hits:
                found.append(hits)
        if len(found) == 1:  # the common case: already in order
            return found[0]
        if not found:
            return ()
        merged = chain.from_iterable(found)
        return _in_text_order(set(merged) if overlap else merged)

    def leaf_hits(self, leaf_id: int) -> tuple[Hit, ...]:
        """Hits of one leaf (none when it does not hold), in text order."""
        return self._found(leaf_id)

    def _found(self, leaf_id: int) -> tuple[Hit, ...]:
        found = self._leaf_hits.get(leaf_id)
        if found is None:
            rules = self.rules
            plans = rules.term_plans
            plan = plans[leaf_id] if leaf_id in plans else rules.term_plan(leaf_id)
            if plan is not None:
                # the common case: shared by every leaf of the same term written the same way
                found = self._term_hits(plan) if plan.atom in self.present else ()
                if len(found) < plan.threshold:
                    found = ()
            else:
                node_id, threshold = rules.leaves[leaf_id]
                if not self.holds(node_id, threshold):
                    found = ()
                elif node_id in rules.term_info or node_id in rules.children:
                    found = self._positional_hits(node_id)
                else:
                    found = tuple(self.pattern_hits(node_id).values())
            self._leaf_hits[leaf_id] = found
        return found

    def _term_hits(self, plan: TermPlan) -> tuple[Hit, ...]:
        """The hits of a plain term, once per article (by the plan's hit id)."""
        atom, hit_id, length, prefix, fields, text, _, size, head = plan
        found = self._term_hits_cache.get(hit_id)
        if found is None:
            hits: list[Hit] = []
            for field in fields:
                if atom in self.atoms[field]:
                    spans, name = self._words(field).spans, TEXT_FIELDS[field]
                    field_hits, low, high = self._hits_of(field, atom)
                    for start, stop in spans(field_hits[low:high], length, size, head, prefix):
                        hits.append(_new(Hit, (name, start, stop, text)))
            found = self._term_hits_cache[hit_id] = tuple(hits)
        return found

    def _positional_hits(self, node_id: int) -> tuple[Hit, ...]:
        unique: set[Hit] = set()
        nodes = self.rules.nodes
        for field, _, _, parts in self.occurrences(node_id):
            span, name = self._words(field).span, TEXT_FIELDS[field]
            for term_id, start, stop in parts:
                text = nodes[term_id].text  # type: ignore[union-attr]
                unique.add(Hit(name, *span(start, stop), text))
        return _in_text_order(unique)


_FIELD_INDEX = {name: index for index, name in enumerate(TEXT_FIELDS)}


def _field_rank(hit: Hit) -> int:
    return _FIELD_INDEX[hit.field]


def _in_text_order(hits: Iterable[Hit]) -> tuple[Hit, ...]:
    """A match's hits in order: by field (title first, as TEXT_FIELDS), then place, then term.
    Hits compare as tuples, in C, by field name first: right when all are in one field (the
    common case), and otherwise one stable sort by field rank puts the fields in order. Runs
    already in order (one term's hits) cost little: the sort merges them."""
    ordered = sorted(hits)
    if ordered and ordered[0].field != ordered[-1].field:
        ordered.sort(key=_field_rank)
    return tuple(ordered)


def _distinct(occurrences: list[Occurrence]) -> int:
    if len(occurrences) < 2:
        return len(occurrences)
    return len({(o.field, o.first, o.last) for o in occurrences})


def meta_holds(meta: Meta, article: Article) -> bool:
    """Whether a ``site:``, ``feed:`` or ``lang:`` condition holds for the article."""
    value = meta.value
    globbing = any(c in value for c in "*?[")
    if meta.field == "feed":
        return fnmatchcase(article.feed.lower(), value)
    if meta.field == "site":
        site = article.site.lower().removeprefix("www.")
        value = value.removeprefix("www.")
        if globbing:
            return fnmatchcase(site, value)
        return site == value or site.endswith("." + value)
    language = (article.language or "").lower()
    if globbing:
        return fnmatchcase(language, value)
    return language == value or language.startswith(value + "-")
