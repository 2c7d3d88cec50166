"""Matching many rules against one article at a cost that follows the article, not the rules.

1. The article's text fields are split into words and folded once (``text.py``); each field
   becomes its folded words between bars, ``"|mi6|chief|  says|"``, where the spaces (the
   rest of a run of separators) are skipped by the automaton and keep every offset the
   text's own.
2. One Aho-Corasick automaton holds every distinct term of every rule (an *atom*): a word is
   ``"|mi6|"``, a phrase ``"|door|is|always|open|"``, a prefix ``"|defect"`` (no closing
   bar). The bars make every hit a whole-word hit. One pass per field finds every atom of
   every rule.
3. Each rule has a *trigger set*: atoms of which at least one must occur for the rule to be
   true (for ``a AND b`` the side expected in fewer articles, for ``a OR b`` both). Only rules
   triggered by an atom that occurred are evaluated, plus the few that can be true without
   any word (pure ``NOT``, ``site:``, ``/regex/``). How often an atom occurs is first guessed
   (``prior_frequency``: a short list of common words, else longer is rarer); after
   LEARN_FROM articles the engine has counted it and every rule chooses again. Triggers
   only decide which rules are evaluated, never which match.
4. A triggered rule's boolean logic runs as a small generated Python expression over the
   atoms found (``a[0] in d``: a set of atoms per field, built in C from the automaton hits;
   ``a`` is the rule's own atoms, so that rules of one shape share one function).
   Metadata (``site:``, ``feed:``, ``lang:``) is ``a[1] in m``: the set of conditions that
   hold, worked out once per feed. Whatever needs positions (NEAR, ``=US``, ``min_hits``)
   and regexes go through ``_Scan.leaf``, memoised per article and shared by every rule
   using the same sub-query (sub-queries get integer ids at compile time, so the
   per-article memo never hashes a syntax tree).
5. Hits are built only for the rules that matched: where an atom is (its automaton hits,
   sorted by atom on first need) and the text offsets of its hits (arithmetic: see
   ``Words``) are worked out once per article, and one term's hits are shared by every rule
   that reports it.
"""

from __future__ import annotations

import logging
import time
from bisect import bisect_left, bisect_right
from collections import Counter
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
# NEAR looks at this many pairs of occurrences per article, all NEARs together, so a page
# repeating both sides cannot stall matching (its cost: docs/rules.md, Speed): a long article
# with each side a hundred times needs a few thousand; only a text repeating both sides
# thousands of times within reach of each other gets near it.
NEAR_PAIR_BUDGET = 20_000
# The engine counts in how many of the first LEARN_FROM articles after compiling each atom
# occurs, then lets every rule choose again which atoms wake it (see RuleSet._learn); 0: never.
LEARN_FROM = 300

# Until then, how often an atom occurs is guessed: words of this list are in most articles
# (a stand-in for a frequency table; any word not in it counts as rare), other words are the
# rarer the longer, a phrase is as rare as its rarest word, a prefix commoner than its word.
_COMMON_WORDS = '''
a about above after again against all also am an and any are as at back be because been
before being below between both but by can could day did do does down during each even
few first for from further get go had has have he her here him his how i if in into is it
its just last like made make many may me more most much my new no nor not now of off on
once one only or other our out over own people said same say says see she should since so
some still such than that the their them then there these they this those three through
time to too two under until up us very was way we well were what when where which while
who will with world would year years you your government police president minister state
country week told news report mr mrs ms uk us eu bbc 1 2 3 4 5 10 2024 2025
'''
_COMMON = frozenset(_COMMON_WORDS.split())
_COMMON_WEIGHT = 300.0  # in nearly every one of 300 articles


def prior_frequency(key: str) -> float:
    """The guessed number of articles out of 300 in which an atom occurs."""
    found = min(_COMMON_WEIGHT if word in _COMMON else 1.0 / max(len(word) - 1, 1)
                for word in key.strip("|").split("|"))
    return found * 4 if not key.endswith("|") else found


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
# What deduplicates regex hits: (field index, start, end, pattern as written)
_HitKey = tuple[int, int, int, str]
# A plain term leaf: atom, the id of its hits (one per atom, fields and term as written:
# leaves differing only in min hits share them), key length, prefix?, field indexes, term as
# written, min hits, number of words, length of the first word
_TermPlan = tuple[int, int, int, bool, tuple[int, ...], str, int, int, int]
# Which atoms can wake a sub-query: see RuleSet._trigger
_TriggerPlan = frozenset[int] | tuple[str, tuple[Any, ...]] | None


def atom_key(term: Term) -> str:
    """The automaton pattern of a term: folded words between bars, open-ended for a prefix
    (see ``Words``)."""
    return "|" + "|".join(term.words) + ("" if term.prefix else "|")


def _value(values: list[int], value: int) -> str:
    """``a[i]``, for the generated tests: ``value`` is ``values[i]``."""
    values.append(value)
    return f"a[{len(values) - 1}]"


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
        self._atom_keys: list[str] = []
        self.nodes: list[Node] = []  # sub-queries by id
        self._node_ids: dict[Node, int] = {}
        # id: atom, key length, number of words, field mask, length of the first word
        self.term_info: dict[int, tuple[int, int, int, int, int]] = {}
        self.children: dict[int, tuple[int, ...]] = {}  # Near: (left, right); Or: children
        self.leaves: list[tuple[int, int]] = []  # (node id, threshold) for _Scan.leaf
        self._leaf_ids: dict[tuple[int, int], int] = {}
        self._term_plans: dict[int, _TermPlan | None] = {}
        self._meta_ids: dict[Meta, int] = {}
        self._field_tuples: dict[tuple[int, ...], tuple[int, ...]] = {}
        self._active = [r for r in self.rules if r.enabled]
        self._tests: list[Any] = []
        self._arguments: list[tuple[int, ...]] = []
        shapes: dict[str, Any] = {}
        self._hit_ids: dict[tuple[int, tuple[int, ...], str], int] = {}
        # What a match reports: the rule's name and the hits of its non-negated leaves, plain
        # terms as their plans
        self._reports: list[tuple[str, tuple[_TermPlan, ...], tuple[int, ...]]] = []
        plans: list[_TriggerPlan] = []
        for rule in self._active:
            root = self.queries[rule.name].root
            threshold = max(1, rule.min_hits)
            values: list[int] = []
            source = self._expression(root, True, threshold, values)
            # Generated from our own syntax tree (integers, a, d, f, m, x, and/or/not only), so it
            # is safe to evaluate; one flat expression runs faster than a tree of closures
            # (docs/rules.md, Speed), and this is the inner loop at 10,000 rules. The rule's
            # atoms and leaves are its argument ``a``, so rules of one shape share one
            # function: a few functions stay in the CPU's caches where 10,000 would each be
            # fetched cold.
            test = shapes.get(source)
            if test is None:
                test = shapes[source] = eval(f"lambda d, f, x, m, a: {source}",
                                             {"__builtins__": {}})
            self._tests.append(test)
            self._arguments.append(tuple(values))
            positive: list[int] = []
            self._positive_leaves(root, True, threshold, positive)
            leaves = tuple(dict.fromkeys(positive))
            reported = tuple(plan for plan in map(self.term_plan, leaves) if plan is not None)
            others = tuple(leaf for leaf in leaves if self.term_plan(leaf) is None)
            self._reports.append((rule.name, reported, others))
            plans.append(self._trigger(root))
        self._trigger_plans = tuple(plans)
        # How many articles out of LEARN_FROM each atom is expected in: a prior until the
        # engine has seen LEARN_FROM articles, then what it counted (see _learn).
        self._estimate = [prior_frequency(key) for key in self._atom_keys]
        self._always: tuple[int, ...] = ()
        self._trigger_tables: list[tuple[int, list[tuple[int, ...] | None]]] = []
        self._choose_triggers()
        self._seen = 0
        # None once learnt (or never, with LEARN_FROM 0)
        self._counts: Counter[int] | None = Counter() if LEARN_FROM > 0 else None
        self._automaton: Any = None
        if self.atoms:
            automaton = ahocorasick.Automaton()
            # In sorted order the trie's nodes are allocated near their siblings: the walk
            # over each word of the text touches fewer cache lines.
            for pattern, atom in sorted(self.atoms.items()):
                automaton.add_word(pattern, atom)
            automaton.make_automaton()
            self._automaton = automaton
        self._feed_cache: dict[str, frozenset[int]] = {}
        self._metadata_holding: dict[tuple[str, str, str | None], frozenset[int]] = {}
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
                    self._atom_keys.append(key)
                self.term_info[found] = (atom, len(key), len(node.words), _mask(node.fields),
                                         len(node.words[0]))
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

    def _expression(self, node: Node, positive: bool, threshold: int, values: list[int]) -> str:
        """The rule's test as Python source over ``d`` (atoms found in the default fields),
        ``f`` (atoms found per field), ``x`` (the ``_Scan``), ``m`` (the metadata conditions
        that hold, see ``metadata_holding``) and ``a``: ``values``, to which each atom, leaf
        or metadata id the source refers to as ``a[i]`` is appended."""
        # A negated term only needs to occur once to exclude: min_hits is for positives.
        needed = threshold if positive else 1
        if isinstance(node, Term) and not node.case_sensitive and needed == 1:
            return self._term_presence(node, values)
        if isinstance(node, Not):
            return f"(not {self._expression(node.child, not positive, threshold, values)})"
        if isinstance(node, And | Or):
            joiner = " and " if isinstance(node, And) else " or "
            return "(" + joiner.join(self._expression(c, positive, threshold, values)
                                     for c in node.children) + ")"
        if isinstance(node, Meta):
            return f"({_value(values, self._meta_id(node))} in m)"
        # Whatever needs positions is costly: ask it only when its atoms occur at all.
        guard = self._presence(node, values)
        leaf = self.leaf_id(node, needed)
        call = f"x.leaf({_value(values, leaf)})"
        return call if guard is None else f"({guard} and {call})"

    def _term_presence(self, node: Term, values: list[int]) -> str:
        """Whether the term's atom was found in one of its fields."""
        atom = _value(values, self.term_info[self.node_id(node)][0])
        if node.fields == DEFAULT_FIELDS:
            return f"({atom} in d)"
        return "(" + " or ".join(f"({atom} in f[{TEXT_FIELDS.index(n)}])"
                                 for n in node.fields) + ")"

    def _presence(self, node: Node, values: list[int]) -> str | None:
        """An expression over the atoms found that is true whenever ``node`` can be (None if
        there is none): the cheap necessary condition before a positional check."""
        if isinstance(node, Term):
            return self._term_presence(node, values)
        if isinstance(node, Near):
            left, right = self._presence(node.left, values), self._presence(node.right, values)
            return None if left is None or right is None else f"({left} and {right})"
        if isinstance(node, Or):
            found = [self._presence(child, values) for child in node.children]
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
            atom, length, size, _, first = self.term_info[node_id]
            fields = tuple(TEXT_FIELDS.index(name) for name in node.fields)
            # one shared object per distinct tuple: read for every match, so better hot
            fields = self._field_tuples.setdefault(fields, fields)
            hit_id = self._hit_ids.setdefault((atom, fields, node.text), len(self._hit_ids))
            plan = (atom, hit_id, length, node.prefix, fields, node.text, threshold, size, first)
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

    def _trigger(self, node: Node) -> _TriggerPlan:
        """Which atoms can wake ``node``: a set of trigger keys of which one must occur, in a
        field the term searches, for ``node`` to be true; None if it can be true without any
        (then the rule is evaluated for every article); or a choice left to
        ``_choose_triggers``, made by how often the atoms are expected to occur: ``("and",
        plans)`` (any one plan will do: all must hold) or ``("or", plans)`` (all are needed).
        A key is ``atom << 3 | slot``, the slot a field index or _DEFAULT."""
        if isinstance(node, Term):
            atom = self.term_info[self.node_id(node)][0]
            if node.fields == DEFAULT_FIELDS:
                return frozenset((atom << 3 | _DEFAULT,))
            return frozenset(atom << 3 | TEXT_FIELDS.index(name) for name in node.fields)
        if isinstance(node, Pattern | Meta | Not):
            return None
        if isinstance(node, Near):  # both sides must occur: either will do
            children = [self._trigger(node.left), self._trigger(node.right)]
            kind = "and"
        else:
            children = [self._trigger(child) for child in node.children]
            kind = "or" if isinstance(node, Or) else "and"
        if kind == "or":
            if any(c is None for c in children):
                return None
            if all(isinstance(c, frozenset) for c in children):
                return frozenset().union(*children)  # type: ignore[arg-type]
            return ("or", tuple(children))
        useful = tuple(c for c in children if c is not None)
        if not useful:
            return None
        return useful[0] if len(useful) == 1 else ("and", useful)

    def _resolve(self, plan: _TriggerPlan) -> frozenset[int] | None:
        if plan is None or isinstance(plan, frozenset):
            return plan
        kind, children = plan
        found = [self._resolve(child) for child in children]
        if kind == "or":
            if any(f is None for f in found):  # pragma: no cover - folded by _trigger
                return None
            return frozenset().union(*found)  # type: ignore[arg-type]
        return min((f for f in found if f is not None), key=self._cost, default=None)

    def _cost(self, keys: frozenset[int]) -> float:
        estimate = self._estimate
        return sum(estimate[key >> 3] for key in keys)

    def _choose_triggers(self) -> None:
        """Build the trigger tables: per slot (a field, or the default fields), atom -> the
        rules it wakes, each rule choosing the atoms least likely to occur."""
        always: list[int] = []
        triggers: dict[int, list[int]] = {}
        for index, plan in enumerate(self._trigger_plans):
            trigger = self._resolve(plan)
            if trigger is None:
                always.append(index)
            else:
                for key in trigger:
                    triggers.setdefault(key, []).append(index)
        # Per slot, a list indexed by atom (None where the atom wakes nothing): a lookup is one
        # read from an array, where a dict of thousands of atoms costs a hash probe and a key
        # comparison.
        tables: dict[int, list[tuple[int, ...] | None]] = {}
        for trigger_key, found in triggers.items():
            table = tables.setdefault(trigger_key & 7, [None] * len(self._atom_keys))
            table[trigger_key >> 3] = tuple(found)
        # Swapped in whole: a concurrent ``match`` sees the old tables or the new ones.
        self._always, self._trigger_tables = tuple(always), sorted(tables.items())

    def _learn(self, present: frozenset[int] | set[int]) -> None:
        """Count the atoms of the first LEARN_FROM articles, then choose the triggers again
        by what was counted. Which rules are *evaluated* changes, never which match (a
        trigger is only a necessary condition), so results do not depend on it."""
        counts = self._counts
        if counts is None:  # pragma: no cover - a concurrent call finished learning
            return
        counts.update(present)
        self._seen += 1
        if self._seen >= LEARN_FROM:
            self._counts = None
            prior = self._estimate
            # The prior stays as a fraction of one article: it only orders the unseen.
            self._estimate = [counts.get(atom, 0) + min(prior[atom], LEARN_FROM) / LEARN_FROM
                              for atom in range(len(prior))]
            self._choose_triggers()

    # -- matching ------------------------------------------------------------------------------

    def match(self, article: Article) -> tuple[RuleMatch, ...]:
        """The enabled rules that match ``article`` (and whose feed globs fit its feed), in
        rule order, each with the hits of its non-negated terms."""
        scan = _Scan(self, article)
        default, per_field = scan.default, scan.atoms
        if self._counts is not None:
            self._learn(scan.present)
        # The rules triggered by the atoms found, gathered by C code (map, filter, chain).
        found: list[tuple[int, ...]] = [self._always]
        for slot, table in self._trigger_tables:
            atoms = default if slot == _DEFAULT else per_field[slot]
            if atoms:
                found.extend(filter(None, map(table.__getitem__, atoms)))
        candidates = set(chain.from_iterable(found))
        excluded = self._excluded(article.feed)  # rules whose feed globs do not fit
        tests, arguments, reports = self._tests, self._arguments, self._reports
        metadata = self.metadata_holding(article)
        matches: list[RuleMatch] = []
        for index in sorted(candidates.difference(excluded) if excluded else candidates):
            if not tests[index](default, per_field, scan, metadata, arguments[index]):
                continue
            name, plans, others = reports[index]
            matches.append(_new(RuleMatch, (name, scan.rule_hits(plans, others))))
        return tuple(matches)

    def _meta_id(self, node: Meta) -> int:
        """The id of a metadata condition (``site:``, ``feed:``, ``lang:``), given while
        compiling (``metadata_holding`` remembers its answers)."""
        found = self._meta_ids.get(node)
        if found is None:
            found = self._meta_ids[node] = len(self._meta_ids)
        return found

    def metadata_holding(self, article: Article) -> frozenset[int]:
        """The ids of the metadata conditions that hold for the article, worked out once per
        feed, site and language (few, and every rule's conditions on them are few)."""
        key = (article.feed, article.site, article.language)
        found = self._metadata_holding.get(key)
        if found is None:
            found = frozenset(number for meta, number in self._meta_ids.items()
                              if meta_holds(meta, article))
            if len(self._metadata_holding) < 10_000:
                self._metadata_holding[key] = found
        return found

    def _excluded(self, feed: str) -> frozenset[int]:
        found = self._feed_cache.get(feed)
        if found is None:
            found = frozenset(
                index for index, rule in enumerate(self._active)
                if rule.feeds and not any(fnmatchcase(feed, glob) for glob in rule.feeds))
            if len(self._feed_cache) < 10_000:
                self._feed_cache[feed] = found
        return found


# Hit and RuleMatch are named tuples: tuple.__new__ builds one in C, where calling the class
# runs its Python-level __new__ (a frame each; the matcher builds one per hit and per match).
_new = tuple.__new__
_by_position = itemgetter(0, 1, 2)
_atom_of = itemgetter(1)
_end_of = itemgetter(0)
_NOTHING: frozenset[int] = frozenset()
_DEFAULT_INDEXES = tuple(TEXT_FIELDS.index(name) for name in DEFAULT_FIELDS)


class _Scan:
    """One article, split and folded once, with every automaton hit. Answers questions about
    sub-queries (by id) and memoises them for all the rules of one ``match`` call."""

    def __init__(self, rules: RuleSet, article: Article) -> None:
        self.rules = rules
        self.article = article
        self.texts = (article.title, article.description, article.body, article.url,
                      article.author)
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
        self._regex_hits: dict[int, dict[_HitKey, Hit]] = {}
        self._regex_left = REGEX_BUDGET
        self._near_left = NEAR_PAIR_BUDGET
        automaton = rules._automaton
        used = rules.fields_used
        for index, text in enumerate(self.texts):
            words = Words(text) if text and index in used else None
            self.words.append(words)
            if automaton is None or words is None or words.empty:
                self.hits.append([])
                self.atoms.append(_NOTHING)
                continue
            hits = list(automaton.iter(words.joined, ignore_white_space=True))
            self.hits.append(hits)
            self.atoms.append(set(map(_atom_of, hits)) if hits else _NOTHING)
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
        """Whether leaf ``leaf_id`` of the rule set holds (called by the generated tests)."""
        cached = self._leaf.get(leaf_id)
        if cached is None:
            node_id, threshold = self.rules.leaves[leaf_id]
            cached = self._leaf[leaf_id] = self.holds(node_id, threshold)
        return cached

    def holds(self, node_id: int, threshold: int) -> bool:
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
            atom, _, _, wanted, _ = info
            return sum(self._count(field, atom) for field, atoms in enumerate(self.atoms)
                       if (1 << field) & wanted and atom in atoms) >= threshold
        return _distinct(self.occurrences(node_id)) >= threshold

    def _count_written_so(self, term: Term, info: tuple[int, int, int, int, int],
                          enough: int) -> int:
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
        closing bar, or for a prefix at the end of the word it begins."""
        return self._words(field).joined.find("|", end + 1) if prefix else end

    def _term_occurrences(self, node_id: int, term: Term,
                          info: tuple[int, int, int, int, int]) -> list[Occurrence]:
        atom, length, size, wanted, head = info  # head: the first word's length
        result: list[Occurrence] = []
        prefix = term.prefix
        if term.case_sensitive:
            wanted &= self._case_fields(term, atom)
        counted = (-1, 0, -1)  # field, offset, word number there: positions come in order
        for field, end in self.positions(atom):
            if not (1 << field) & wanted:
                continue
            words = self._words(field)
            start = words.start(end, length, size, head)
            stop = self._term_stop(field, end, prefix)
            if term.case_sensitive and not self._same_case(term, field, start, stop):
                continue
            first = (words.index(start, *counted[1:]) if counted[0] == field
                     else words.index(start))
            counted = (field, start, first)
            result.append((field, first, first + size, ((node_id, start, stop),)))
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
        lefts = self.occurrences(left_id)
        rights = self.occurrences(right_id)
        if not lefts or not rights:
            return []
        distance = near.distance
        rights = sorted(rights, key=_by_position)
        starts = [(r[0], r[1]) for r in rights]
        longest = max(r[2] - r[1] for r in rights)
        result: dict[tuple[int, int, int], Occurrence] = {}
        count = len(rights)
        examined = 0
        for field, first, last, parts in lefts:
            # Only rights starting between (first - distance - longest) and (last + distance)
            # can be close enough, on either side.
            index = bisect_left(starts, (field, first - distance - longest))
            while index < count:
                r_field, r_first, r_last, r_parts = rights[index]
                if r_field != field or r_first > last + distance:
                    break
                index += 1
                examined += 1
                after = last <= r_first and r_first - last <= distance
                before = not near.ordered and r_last <= first and first - r_last <= distance
                if after or before:
                    span = (field, min(first, r_first), max(last, r_last))
                    if span not in result:
                        result[span] = (*span, parts + r_parts)
            if examined > self._near_left:
                # A text that repeats both sides thousands of times (a hostile page, a list of
                # thousands of items) has millions of pairs; those found so far decide.
                if self._near_left > 0:  # said once per article
                    log.warning("NEAR pair budget spent on %s: a %sNEAR/%d judged on its "
                                "first %d pairs, and any NEAR after it on fewer",
                                self.article.url, "O" if near.ordered else "", near.distance,
                                examined)
                break
        self._near_left -= examined
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

    def rule_hits(self, plans: tuple[_TermPlan, ...], others: tuple[int, ...]
                  ) -> tuple[Hit, ...]:
        """The hits of a matched rule's non-negated leaves that hold, in text order: ``plans``
        for its plain terms, the ids of the others."""
        present, cache = self.present, self._term_hits_cache
        found: list[tuple[Hit, ...]] = []
        for plan in plans:
            if plan[0] in present:
                hits = cache.get(plan[1])
                if hits is None:
                    hits = self._term_hits(plan)
                if len(hits) >= plan[6]:
                    found.append(hits)
        for leaf in others:
            hits = self._found(leaf)
            if hits:
                found.append(hits)
        if len(found) == 1:  # the common case: already in order
            return found[0]
        if not found:
            return ()
        return _in_text_order(set(chain.from_iterable(found)))

    def leaf_hits(self, leaf_id: int) -> tuple[Hit, ...]:
        """Hits of one leaf (none when it does not hold), in text order."""
        return self._found(leaf_id)

    def _found(self, leaf_id: int) -> tuple[Hit, ...]:
        found = self._leaf_hits.get(leaf_id)
        if found is None:
            plans = self.rules._term_plans
            plan = plans[leaf_id] if leaf_id in plans else self.rules.term_plan(leaf_id)
            if plan is not None:
                # the common case: shared by every leaf of the same term written the same way
                found = self._term_hits(plan) if plan[0] in self.present else ()
                if len(found) < plan[6]:
                    found = ()
            else:
                node_id, threshold = self.rules.leaves[leaf_id]
                if not self.holds(node_id, threshold):
                    found = ()
                elif node_id in self.rules.term_info or node_id in self.rules.children:
                    found = self._positional_hits(node_id)
                else:
                    found = tuple(self.pattern_hits(node_id).values())
            self._leaf_hits[leaf_id] = found
        return found

    def _term_hits(self, plan: _TermPlan) -> tuple[Hit, ...]:
        """The hits of a plain term, once per article (by the plan's hit id)."""
        atom, hit_id, length, prefix, fields, text, _, size, first = plan
        found = self._term_hits_cache.get(hit_id)
        if found is None:
            hits: list[Hit] = []
            for field in fields:
                if atom in self.atoms[field]:
                    words, name = self.words[field], TEXT_FIELDS[field]
                    assert words is not None  # the automaton found something there
                    field_hits, low, high = self._hits_of(field, atom)
                    for start, stop in words.spans(field_hits[low:high], length, size, first,
                                                   prefix):
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
    common case), and otherwise one stable sort by field rank puts the fields in order."""
    ordered = sorted(hits)
    if ordered and ordered[0].field != ordered[-1].field:
        ordered.sort(key=_field_rank)
    return tuple(ordered)


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
