"""Matching many rules against one article at a cost that follows the article, not the rules.

1. The article's text fields are split into words and folded once (``text.py``); each field
   becomes a string of folded words between single spaces: ``" mi6 chief says "``.
2. One Aho-Corasick automaton holds every distinct term of every rule (an *atom*): a word is
   ``" mi6 "``, a phrase ``" door is always open "``, a prefix ``" defect"`` (no closing
   space). The surrounding spaces make every hit a whole-word hit. One pass per field finds
   every atom of every rule.
3. Each rule has a *trigger set*: atoms of which at least one must occur for the rule to be
   true (for ``a AND b`` the rarer-looking side, for ``a OR b`` both). Only rules triggered by
   an atom that occurred are evaluated, plus the few that can be true without any word (pure
   ``NOT``, ``site:``, ``/regex/``).
4. A triggered rule's boolean logic runs as a small generated Python expression over the
   atoms found (``12 in d``: a set of atoms per field, built in C from the automaton hits).
   Whatever needs positions (NEAR, ``=US``, ``min_hits``), regexes and metadata go through
   ``_Scan.leaf``, memoised per article and shared by every rule using the same sub-query
   (sub-queries get integer ids at compile time, so the per-article memo never hashes a
   syntax tree).
"""

from __future__ import annotations

import logging
import time
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from itertools import chain
from operator import itemgetter
from typing import Any, Literal

import ahocorasick

from watcher.rules.query import (
    DEFAULT_FIELDS,
    TEXT_FIELDS,
    And,
    Meta,
    Near,
    Node,
    Not,
    Or,
    Pattern,
    Query,
    Term,
    compile_query,
)
from watcher.rules.text import Words, nfc, words
from watcher.types import Article, Hit, RuleMatch

log = logging.getLogger(__name__)

FIELD_BIT = {name: 1 << index for index, name in enumerate(TEXT_FIELDS)}
_DEFAULT = len(TEXT_FIELDS)  # the trigger slot of terms searching the default fields
# A /regex/ gets this long per field, and all regexes together this long per article: a
# catastrophic pattern costs a bounded delay, never a stalled daemon.
REGEX_TIMEOUT = 0.05
REGEX_BUDGET = 0.25
REGEX_MAX_HITS = 100


@dataclass(frozen=True)
class Rule:
    name: str
    query: str  # the query text; any/all/none lists are compiled to an equivalent query
    feeds: tuple[str, ...] = ()  # globs on the feed name; empty: every feed
    alert: Literal["digest", "immediate"] = "digest"
    digests: tuple[str, ...] | None = None  # None: every digest
    channels: tuple[str, ...] = ()  # for immediate alerts; empty: the configured defaults
    enabled: bool = True
    description: str = ""
    tags: tuple[str, ...] = ()
    min_hits: int = 1  # each non-negated term must occur at least this often


# One occurrence of something positional: field index, first word, the word after the last,
# and the term occurrences it is made of, for hits: (term id, start, stop) as offsets in the
# field's automaton string (``Words.span`` maps them to the text).
Parts = tuple[tuple[int, int, int], ...]
Occurrence = tuple[int, int, int, Parts]
# What orders and deduplicates hits: (field index, start, end, term as written)
_HitKey = tuple[int, int, int, str]
# A plain term leaf: atom, key length, prefix?, field indexes, term as written, min hits
_TermPlan = tuple[int, int, bool, tuple[int, ...], str, int]


def atom_key(term: Term) -> str:
    """The automaton pattern of a term: folded words between spaces, open-ended for a prefix."""
    return " " + " ".join(term.words) + ("" if term.prefix else " ")


def _mask(fields: Iterable[str]) -> int:
    return sum(FIELD_BIT[f] for f in fields)


class RuleSet:
    """Rules compiled into one automaton. Immutable after construction; ``match`` is
    thread-safe (each call keeps its state in its own ``_Scan``)."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        self._by_name = {rule.name: rule for rule in self.rules}
        if len(self._by_name) != len(self.rules):
            raise ValueError("rule names must be unique")
        self.queries: dict[str, Query] = {r.name: compile_query(r.query) for r in self.rules}
        self.atoms: dict[str, int] = {}
        self._atom_length: list[int] = []
        self.nodes: list[Node] = []  # sub-queries by id
        self._node_ids: dict[Node, int] = {}
        self.term_info: dict[int, tuple[int, int, int, int]] = {}  # id: atom, len, words, mask
        self.children: dict[int, tuple[int, ...]] = {}  # Near: (left, right); Or: children
        self.leaves: list[tuple[int, int]] = []  # (node id, threshold) for _Scan.leaf
        self._leaf_ids: dict[tuple[int, int], int] = {}
        self._term_plans: dict[int, _TermPlan | None] = {}
        self._active = [r for r in self.rules if r.enabled]
        self._tests: list[Any] = []
        self._positive: list[tuple[int, ...]] = []  # leaf ids whose hits a match reports
        self._always: list[int] = []
        triggers: dict[int, list[int]] = {}  # trigger key (see _trigger): rule indexes
        for index, rule in enumerate(self._active):
            root = self.queries[rule.name].root
            threshold = max(1, rule.min_hits)
            source = self._expression(root, True, threshold)
            # Generated from our own syntax tree (integers, m, x, and/or/not only), so it is
            # safe to evaluate; one flat expression runs several times faster than a tree of
            # closures, and this is the inner loop at 10,000 rules.
            self._tests.append(eval(f"lambda d, f, x: {source}", {"__builtins__": {}}))
            positive: list[int] = []
            self._positive_leaves(root, True, threshold, positive)
            self._positive.append(tuple(dict.fromkeys(positive)))
            trigger = self._trigger(root)
            if trigger is None:
                self._always.append(index)
            else:
                for key in trigger:
                    triggers.setdefault(key, []).append(index)
        # Per slot (a field, or the default fields), atom -> rules it triggers.
        tables: dict[int, dict[int, tuple[int, ...]]] = {}
        for trigger_key, found in triggers.items():
            tables.setdefault(trigger_key & 7, {})[trigger_key >> 3] = tuple(found)
        self._trigger_tables = sorted(tables.items())
        self._automaton: Any = None
        if self.atoms:
            automaton = ahocorasick.Automaton()
            for pattern, atom in self.atoms.items():
                automaton.add_word(pattern, atom)
            automaton.make_automaton()
            self._automaton = automaton
        self._feed_cache: dict[str, frozenset[int]] = {}
        # Fields no term searches are not even split into words.
        self.fields_used = tuple(
            index for index, name in enumerate(TEXT_FIELDS)
            if any(name in node.fields for node in self.nodes if isinstance(node, Term | Pattern)))

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def get(self, name: str) -> Rule | None:
        return self._by_name.get(name)

    # -- compilation ---------------------------------------------------------------------------

    def node_id(self, node: Node) -> int:
        found = self._node_ids.get(node)
        if found is None:
            found = self._node_ids[node] = len(self.nodes)
            self.nodes.append(node)
            if isinstance(node, Term):
                key = atom_key(node)
                atom = self.atoms.get(key, -1)
                if atom < 0:
                    atom = self.atoms[key] = len(self._atom_length)
                    self._atom_length.append(len(key))
                self.term_info[found] = (atom, len(key), len(node.words), _mask(node.fields))
            elif isinstance(node, Near):
                self.children[found] = (self.node_id(node.left), self.node_id(node.right))
            elif isinstance(node, Or):
                self.children[found] = tuple(self.node_id(c) for c in node.children)
        return found

    def leaf_id(self, node: Node, threshold: int) -> int:
        key = (self.node_id(node), threshold)
        found = self._leaf_ids.get(key)
        if found is None:
            found = self._leaf_ids[key] = len(self.leaves)
            self.leaves.append(key)
        return found

    def _expression(self, node: Node, positive: bool, threshold: int) -> str:
        # A negated term only needs to occur once to exclude: min_hits is for positives.
        needed = threshold if positive else 1
        if isinstance(node, Term) and not node.case_sensitive and needed == 1:
            atom = self.term_info[self.node_id(node)][0]
            # d: atoms found in the default fields; f[i]: atoms found in field i
            if node.fields == DEFAULT_FIELDS:
                return f"({atom} in d)"
            return " or ".join(f"({atom} in f[{TEXT_FIELDS.index(n)}])" for n in node.fields)
        if isinstance(node, Not):
            return f"(not {self._expression(node.child, not positive, threshold)})"
        if isinstance(node, And | Or):
            joiner = " and " if isinstance(node, And) else " or "
            return "(" + joiner.join(self._expression(c, positive, threshold)
                                     for c in node.children) + ")"
        call = f"x.leaf({self.leaf_id(node, 1 if isinstance(node, Meta) else needed)})"
        # Whatever needs positions is costly: ask it only when its atoms occur at all.
        guard = self._presence(node)
        return call if guard is None else f"({guard} and {call})"

    def _presence(self, node: Node) -> str | None:
        """An expression over the atoms found that is true whenever ``node`` can be (None if
        there is none): the cheap necessary condition before a positional check."""
        if isinstance(node, Term):
            atom = self.term_info[self.node_id(node)][0]
            if node.fields == DEFAULT_FIELDS:
                return f"({atom} in d)"
            return "(" + " or ".join(f"({atom} in f[{TEXT_FIELDS.index(n)}])"
                                     for n in node.fields) + ")"
        if isinstance(node, Near):
            left, right = self._presence(node.left), self._presence(node.right)
            return None if left is None or right is None else f"({left} and {right})"
        if isinstance(node, Or):
            found = [self._presence(child) for child in node.children]
            if any(f is None for f in found):
                return None
            return "(" + " or ".join(f for f in found if f is not None) + ")"
        return None

    def term_plan(self, leaf_id: int) -> _TermPlan | None:
        """What ``_Scan`` needs for the hits of a leaf that is a plain (not case-sensitive)
        term, worked out once; None for other leaves."""
        if leaf_id in self._term_plans:
            return self._term_plans[leaf_id]
        node_id, threshold = self.leaves[leaf_id]
        node = self.nodes[node_id]
        plan: _TermPlan | None = None
        if isinstance(node, Term) and not node.case_sensitive:
            atom, length, _, _ = self.term_info[node_id]
            plan = (atom, length, node.prefix,
                    tuple(TEXT_FIELDS.index(name) for name in node.fields), node.text, threshold)
        self._term_plans[leaf_id] = plan
        return plan

    def _positive_leaves(self, node: Node, positive: bool, threshold: int,
                         out: list[int]) -> None:
        """The leaves whose hits a match reports: those under an even number of NOTs."""
        if isinstance(node, Not):
            self._positive_leaves(node.child, not positive, threshold, out)
        elif isinstance(node, And | Or):
            for child in node.children:
                self._positive_leaves(child, positive, threshold, out)
        elif positive and not isinstance(node, Meta):
            out.append(self.leaf_id(node, threshold))

    def _trigger(self, node: Node) -> frozenset[int] | None:
        """Keys of atoms of which one must occur, in a field the term searches, for ``node``
        to be true; None if it can be true without any (then the rule is evaluated for every
        article). A key is ``atom << 3 | slot``, the slot a field index or _DEFAULT."""
        if isinstance(node, Term):
            atom = self.term_info[self.node_id(node)][0]
            if node.fields == DEFAULT_FIELDS:
                return frozenset((atom << 3 | _DEFAULT,))
            return frozenset(atom << 3 | TEXT_FIELDS.index(name) for name in node.fields)
        if isinstance(node, Pattern | Meta | Not):
            return None
        if isinstance(node, Near):  # both sides must occur: the cheaper one will do
            sides = (self._trigger(node.left), self._trigger(node.right))
            return min((s for s in sides if s is not None), key=self._cost, default=None)
        found = [self._trigger(child) for child in node.children]
        if isinstance(node, Or):
            if any(f is None for f in found):
                return None
            return frozenset().union(*[f for f in found if f is not None])
        return min((f for f in found if f is not None), key=self._cost, default=None)

    def _cost(self, atoms: frozenset[int]) -> float:
        # How often the atoms are likely to occur, without statistics: longer keys (so
        # phrases) are rarer; a prefix lacks its closing space, so it counts as shorter.
        return sum(1.0 / max(self._atom_length[key >> 3] - 3, 1) for key in atoms)

    # -- matching ------------------------------------------------------------------------------

    def match(self, article: Article) -> tuple[RuleMatch, ...]:
        """The enabled rules that match ``article`` (and whose feed globs fit its feed), in
        rule order, each with the hits of its non-negated terms."""
        scan = _Scan(self, article)
        default, per_field = scan.default, scan.atoms
        # The rules triggered by the atoms found, gathered by C code (map, filter, chain).
        found: list[tuple[int, ...]] = [tuple(self._always)]
        for slot, table in self._trigger_tables:
            atoms = default if slot == _DEFAULT else per_field[slot]
            if atoms:
                found.extend(filter(None, map(table.get, atoms)))
        candidates = sorted(set(chain.from_iterable(found)))
        excluded = self._excluded(article.feed)
        tests = self._tests
        matches: list[RuleMatch] = []
        for index in candidates:
            if (excluded and index in excluded) or not tests[index](default, per_field, scan):
                continue
            matches.append(RuleMatch(self._active[index].name,
                                     scan.rule_hits(self._positive[index])))
        return tuple(matches)

    def _excluded(self, feed: str) -> frozenset[int]:
        found = self._feed_cache.get(feed)
        if found is None:
            found = frozenset(
                index for index, rule in enumerate(self._active)
                if rule.feeds and not any(fnmatchcase(feed, glob) for glob in rule.feeds))
            if len(self._feed_cache) < 10_000:
                self._feed_cache[feed] = found
        return found


_by_position = itemgetter(0, 1, 2)
_atom_of = itemgetter(1)
_NOTHING: frozenset[int] = frozenset()


class _Scan:
    """One article, split and folded once, with every automaton hit. Answers questions about
    sub-queries (by id) and memoises them for all the rules of one ``match`` call."""

    def __init__(self, rules: RuleSet, article: Article) -> None:
        self.rules = rules
        self.article = article
        self.texts = (article.title, article.description, article.body, article.url,
                      article.author)
        self.words: list[Words | None] = []
        # Per field, the automaton's (end, atom) hits sorted by atom, and the set of atoms:
        # built by C code (list, sorted, set), not by a Python loop over every hit.
        self.hits: list[list[tuple[int, int]]] = []
        self.atoms: list[set[int] | frozenset[int]] = []
        self._positions: dict[int, list[tuple[int, int]]] = {}
        self._leaf: dict[int, bool] = {}
        self._occurrences: dict[int, list[Occurrence]] = {}
        self._leaf_hits: dict[int, dict[_HitKey, Hit]] = {}
        self._regex_hits: dict[int, dict[_HitKey, Hit]] = {}
        self._regex_left = REGEX_BUDGET
        automaton = rules._automaton
        used = rules.fields_used
        for index, text in enumerate(self.texts):
            words = Words(text) if text and index in used else None
            self.words.append(words)
            if automaton is None or words is None or len(words.joined) <= 2:
                self.hits.append([])
                self.atoms.append(_NOTHING)
                continue
            hits = sorted(automaton.iter(words.joined), key=_atom_of)
            self.hits.append(hits)
            self.atoms.append(set(map(_atom_of, hits)) if hits else _NOTHING)
        self.default = self.atoms[0] | self.atoms[1] | self.atoms[2]
        self.present = self.default.union(self.atoms[3], self.atoms[4])

    def positions(self, atom: int) -> list[tuple[int, int]]:
        """(field, end offset) of every hit of ``atom``, in text order."""
        found = self._positions.get(atom)
        if found is None:
            found = []
            for field, hits in enumerate(self.hits):
                if atom in self.atoms[field]:
                    low = bisect_left(hits, atom, key=_atom_of)
                    high = bisect_right(hits, atom, lo=low, key=_atom_of)
                    found.extend((field, end) for end, _ in hits[low:high])
            self._positions[atom] = found
        return found

    # -- leaves --------------------------------------------------------------------------------

    def leaf(self, leaf_id: int) -> bool:
        """Whether leaf ``leaf_id`` of the rule set holds (called by the generated tests)."""
        cached = self._leaf.get(leaf_id)
        if cached is None:
            node_id, threshold = self.rules.leaves[leaf_id]
            cached = self._leaf[leaf_id] = self.holds(node_id, threshold)
        return cached

    def holds(self, node_id: int, threshold: int) -> bool:
        node = self.rules.nodes[node_id]
        if isinstance(node, Meta):
            return meta_holds(node, self.article)
        if isinstance(node, Pattern):
            return len(self.pattern_hits(node_id)) >= threshold
        return _distinct(self.occurrences(node_id)) >= threshold

    def occurrences(self, node_id: int) -> list[Occurrence]:
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
        words = self.words[field]
        assert words is not None  # the automaton found something there
        return words

    def _term_stop(self, field: int, end: int, prefix: bool) -> int:
        """Where a hit of an atom ending at ``end`` stops in the automaton string: at the
        closing space, or for a prefix at the end of the word it begins."""
        return self._words(field).joined.find(" ", end + 1) if prefix else end

    def _term_occurrences(self, node_id: int, term: Term,
                          info: tuple[int, int, int, int]) -> list[Occurrence]:
        atom, length, size, wanted = info
        result: list[Occurrence] = []
        prefix = term.prefix
        for field, end in self.positions(atom):
            if not (1 << field) & wanted:
                continue
            start = end - length + 2
            stop = self._term_stop(field, end, prefix)
            if term.case_sensitive and not self._same_case(term, field, start, stop):
                continue
            first = self._words(field).index(start)
            result.append((field, first, first + size, ((node_id, start, stop),)))
        return result

    def _same_case(self, term: Term, field: int, start: int, stop: int) -> bool:
        begin, end = self._words(field).span(start, stop)
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
        lefts = self.occurrences(left_id)
        rights = self.occurrences(right_id)
        if not lefts or not rights:
            return []
        distance = near.distance
        rights = sorted(rights, key=_by_position)
        starts = [(r[0], r[1]) for r in rights]
        longest = max(r[2] - r[1] for r in rights)
        result: dict[tuple[int, int, int], Occurrence] = {}
        for field, first, last, parts in lefts:
            # Only rights starting between (first - distance - longest) and (last + distance)
            # can be close enough, on either side.
            index = bisect_left(starts, (field, first - distance - longest))
            for r_field, r_first, r_last, r_parts in rights[index:]:
                if r_field != field or r_first > last + distance:
                    break
                after = last <= r_first and r_first - last <= distance
                before = not near.ordered and r_last <= first and first - r_last <= distance
                if after or before:
                    span = (field, min(first, r_first), max(last, r_last))
                    if span not in result:
                        result[span] = (*span, parts + r_parts)
        return list(result.values())

    def pattern_hits(self, node_id: int) -> dict[_HitKey, Hit]:
        """Regex matches, each field searched with a time limit (see REGEX_BUDGET)."""
        cached = self._regex_hits.get(node_id)
        if cached is not None:
            return cached
        pattern = self.rules.nodes[node_id]
        assert isinstance(pattern, Pattern) and pattern.compiled is not None
        hits: dict[_HitKey, Hit] = {}
        for name in pattern.fields:
            field = TEXT_FIELDS.index(name)
            text = self.texts[field]
            if not text:
                continue
            limit = min(REGEX_TIMEOUT, self._regex_left)
            if limit <= 0:
                log.warning("regex time budget spent on %s: %s not searched in %s",
                            self.article.url, pattern.text, name)
                break
            started = time.monotonic()
            try:
                for found in pattern.compiled.finditer(text, timeout=limit):
                    start, end = found.span()
                    hits[(field, start, end, pattern.text)] = Hit(name, start, end, pattern.text)
                    if len(hits) >= REGEX_MAX_HITS:
                        break
            except TimeoutError:
                log.warning("regex %s timed out after %.0f ms on %s of %s: counted as no match",
                            pattern.text, limit * 1000, name, self.article.url)
            finally:
                self._regex_left -= time.monotonic() - started
        self._regex_hits[node_id] = hits
        return hits

    # -- hits ----------------------------------------------------------------------------------

    def rule_hits(self, leaves: tuple[int, ...]) -> tuple[Hit, ...]:
        """The hits of a matched rule's non-negated leaves that hold, in text order."""
        found = [hits for hits in map(self.leaf_hits, leaves) if hits]
        if len(found) == 1:  # the common case: already in order
            return tuple(found[0].values())
        merged: dict[_HitKey, Hit] = {}
        for hits in found:
            merged.update(hits)
        return tuple(merged[key] for key in sorted(merged))

    def leaf_hits(self, leaf_id: int) -> dict[_HitKey, Hit]:
        """Hits of one leaf (none when it does not hold), keyed and ordered by position."""
        found = self._leaf_hits.get(leaf_id)
        if found is None:
            plan = self.rules.term_plan(leaf_id)
            if plan is not None:
                # the common case, straight from the automaton hits (already in order)
                found = self._term_hits(plan)
                self._leaf_hits[leaf_id] = found
                return found
            node_id, threshold = self.rules.leaves[leaf_id]
            if not self.holds(node_id, threshold):
                found = {}
            elif node_id in self.rules.term_info or node_id in self.rules.children:
                found = self._positional_hits(node_id)
            else:
                found = self.pattern_hits(node_id)
            self._leaf_hits[leaf_id] = found
        return found

    def _term_hits(self, plan: _TermPlan) -> dict[_HitKey, Hit]:
        atom, length, prefix, fields, text, threshold = plan
        result: dict[_HitKey, Hit] = {}
        if atom not in self.present:
            return result
        for field in fields:
            if atom not in self.atoms[field]:
                continue
            hits = self.hits[field]
            low = bisect_left(hits, atom, key=_atom_of)
            high = bisect_right(hits, atom, lo=low, key=_atom_of)
            words = self.words[field]
            assert words is not None  # the automaton found something there
            find, span, name = words.joined.find, words.span, TEXT_FIELDS[field]
            for end, _ in hits[low:high]:
                start, stop = span(end - length + 2, find(" ", end + 1) if prefix else end)
                result[(field, start, stop, text)] = Hit(name, start, stop, text)
        return result if len(result) >= threshold else {}

    def _positional_hits(self, node_id: int) -> dict[_HitKey, Hit]:
        unique: dict[_HitKey, Hit] = {}
        nodes = self.rules.nodes
        for field, _, _, parts in self.occurrences(node_id):
            span = self._words(field).span
            for term_id, start, stop in parts:
                text = nodes[term_id].text  # type: ignore[union-attr]
                key = (field, *span(start, stop), text)
                if key not in unique:
                    unique[key] = Hit(TEXT_FIELDS[field], key[1], key[2], text)
        return dict(sorted(unique.items())) if len(unique) > 1 else unique


def _distinct(occurrences: list[Occurrence]) -> int:
    if len(occurrences) < 2:
        return len(occurrences)
    return len({o[:3] for o in occurrences})


def meta_holds(meta: Meta, article: Article) -> bool:
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
