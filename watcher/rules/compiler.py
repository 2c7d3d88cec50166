"""Rules compiled for matching: ids for sub-queries, atoms for the automaton, a generated test
per rule, and what a match reports.

- Every distinct term of every rule is an *atom*, an automaton pattern of folded words between
  bars: a word is ``"|mi6|"``, a phrase ``"|door|is|always|open|"``, a prefix ``"|defect"``
  (no closing bar). The bars make every hit a whole-word hit (see ``text.Words``).
- Sub-queries get integer ids, so the per-article memo (``scan.Scan``) never hashes a syntax
  tree, and identical sub-queries of different rules are evaluated once.
- A rule's boolean logic becomes a small Python expression over the atoms found (``a[0] in
  d``); ``a`` is the rule's own atoms and leaves, so rules of one shape share one function.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import ahocorasick

from watcher.rules.parser import compile_query
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
)
from watcher.rules.triggers import TriggerPlan, trigger_plan

FIELD_BIT = {name: 1 << index for index, name in enumerate(TEXT_FIELDS)}


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


class TermInfo(NamedTuple):
    """A term sub-query's place in the automaton and its shape."""

    atom: int
    key_length: int  # of the automaton pattern
    size: int  # number of words
    fields: int  # bit mask (FIELD_BIT) of the fields it searches
    head: int  # length of the first word


class TermPlan(NamedTuple):
    """What a scan needs for the hits of a plain (not case-sensitive) term leaf."""

    atom: int
    # One per atom, fields and term as written: leaves differing only in min_hits share hits
    hit_id: int
    key_length: int
    prefix: bool
    fields: tuple[int, ...]  # field indexes
    text: str  # the term as written, which its hits report
    threshold: int  # min hits
    size: int
    head: int


# A sub-query that a test asks a scan about, (node id, threshold): it holds ``threshold``
# times or more. A plain tuple, not a named one: there are tens of thousands, and the garbage
# collector stops tracking plain tuples of numbers, never named ones.
Leaf = tuple[int, int]


class Report(NamedTuple):
    """What a match of a rule reports: its name and the hits of its non-negated leaves, plain
    terms as their plans and the other leaves by id."""

    rule: str
    plans: tuple[TermPlan, ...]
    others: tuple[int, ...]
    # Whether two of these leaves can report the same hit (they share a term as written, as
    # in ``title:Kremlin OR Kremlin``): only then must the merged hits be deduplicated.
    overlap: bool


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


class CompiledRules:
    """The enabled rules of a rule set compiled; ``tests[i]``, ``arguments[i]``,
    ``reports[i]`` and ``trigger_plans[i]`` belong to ``active[i]``. Raises QuerySyntaxError
    for a query that does not parse.

    ``node_id``, ``leaf_id`` and ``term_plan`` may add entries later (``explain`` asks about
    sub-queries with other thresholds); everything else is fixed once built."""

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        self.queries: dict[str, Query] = {r.name: compile_query(r.query) for r in rules}
        self.active = tuple(r for r in rules if r.enabled)
        self.atoms: dict[str, int] = {}
        self.atom_keys: list[str] = []
        self.nodes: list[Node] = []  # sub-queries by id
        self._node_ids: dict[Node, int] = {}
        self.term_info: dict[int, TermInfo] = {}  # by node id
        self.children: dict[int, tuple[int, ...]] = {}  # Near: (left, right); Or: children
        self.leaves: list[Leaf] = []
        self._leaf_ids: dict[Leaf, int] = {}
        self.term_plans: dict[int, TermPlan | None] = {}  # by leaf id
        self.meta_ids: dict[Meta, int] = {}
        self._field_tuples: dict[tuple[int, ...], tuple[int, ...]] = {}
        self._hit_ids: dict[tuple[int, tuple[int, ...], str], int] = {}
        self.tests: list[Any] = []
        self.arguments: list[tuple[int, ...]] = []
        self.reports: list[Report] = []
        plans: list[TriggerPlan] = []
        self._shapes: dict[str, Any] = {}  # each generated test by its source
        for rule in self.active:
            root = self.queries[rule.name].root
            threshold = max(1, rule.min_hits)
            values: list[int] = []
            source = self._expression(root, True, threshold, values)
            # Generated from our own syntax tree (integers, a, d, f, m, x, and/or/not only), so
            # it is safe to evaluate; one flat expression runs faster than a tree of closures
            # (docs/rules.md, Speed), and this is the inner loop at 10,000 rules. Rules of one
            # shape share one function: a few functions stay in the CPU's caches where 10,000
            # would each be fetched cold.
            self.tests.append(_shaped_test(source, self._shapes))
            self.arguments.append(tuple(values))
            positive: list[int] = []
            self._positive_leaves(root, True, threshold, positive)
            leaves = tuple(dict.fromkeys(positive))
            reported = tuple(plan for plan in map(self.term_plan, leaves) if plan is not None)
            others = tuple(leaf for leaf in leaves if self.term_plan(leaf) is None)
            overlap = self._overlap(reported, others)
            self.reports.append(Report(rule.name, reported, others, overlap))
            plans.append(trigger_plan(root, self._atom_of))
        self.trigger_plans = tuple(plans)
        self.automaton: Any = None
        if self.atoms:
            automaton = ahocorasick.Automaton()
            # In sorted order the trie's nodes are allocated near their siblings: the walk
            # over each word of the text touches fewer cache lines.
            for pattern, atom in sorted(self.atoms.items()):
                automaton.add_word(pattern, atom)
            automaton.make_automaton()
            self.automaton = automaton
        # Fields no term searches are not even split into words.
        self.fields_used = tuple(
            index for index, name in enumerate(TEXT_FIELDS)
            if any(name in node.fields for node in self.nodes if isinstance(node, Term | Pattern)))

    # Pickled (``compiledcache.py`` keeps a compiled set on disk) with each generated test as
    # its source, which functions made by ``eval`` cannot be pickled without. Loading a
    # pickle runs code anyway: compiledcache reads only the user's own files.
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        source_of = {id(test): source for source, test in self._shapes.items()}
        state["tests"] = [source_of[id(test)] for test in self.tests]
        state["_shapes"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        shapes: dict[str, Any] = {}
        state["tests"] = [_shaped_test(source, shapes) for source in state["tests"]]
        state["_shapes"] = shapes
        self.__dict__.update(state)

    def node_id(self, node: Node) -> int:
        found = self._node_ids.get(node)
        if found is None:
            found = self._node_ids[node] = len(self.nodes)
            self.nodes.append(node)
            if isinstance(node, Term):
                key = atom_key(node)
                atom = self.atoms.get(key, -1)
                if atom < 0:
                    atom = self.atoms[key] = len(self.atom_keys)
                    self.atom_keys.append(key)
                self.term_info[found] = TermInfo(atom, len(key), len(node.words),
                                                 _mask(node.fields), len(node.words[0]))
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

    def _atom_of(self, term: Term) -> int:
        return self.term_info[self.node_id(term)].atom

    def _expression(self, node: Node, positive: bool, threshold: int, values: list[int]) -> str:
        """The rule's test as Python source over ``d`` (atoms found in the default fields),
        ``f`` (atoms found per field), ``x`` (the ``Scan``), ``m`` (the metadata conditions
        that hold, see ``RuleSet.metadata_holding``) and ``a``: ``values``, to which each
        atom, leaf or metadata id the source refers to as ``a[i]`` is appended."""
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
        atom = _value(values, self.term_info[self.node_id(node)].atom)
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

    def _meta_id(self, node: Meta) -> int:
        """The id of a metadata condition (``site:``, ``feed:``, ``lang:``)."""
        found = self.meta_ids.get(node)
        if found is None:
            found = self.meta_ids[node] = len(self.meta_ids)
        return found

    def term_plan(self, leaf_id: int) -> TermPlan | None:
        """The plan of a leaf that is a plain (not case-sensitive) term, worked out once; None
        for other leaves."""
        if leaf_id in self.term_plans:
            return self.term_plans[leaf_id]
        node_id, threshold = self.leaves[leaf_id]
        node = self.nodes[node_id]
        plan: TermPlan | None = None
        if isinstance(node, Term) and not node.case_sensitive:
            atom, length, size, _, head = self.term_info[node_id]
            fields = tuple(TEXT_FIELDS.index(name) for name in node.fields)
            # one shared object per distinct tuple: read for every match, so better hot
            fields = self._field_tuples.setdefault(fields, fields)
            hit_id = self._hit_ids.setdefault((atom, fields, node.text), len(self._hit_ids))
            plan = TermPlan(atom, hit_id, length, node.prefix, fields, node.text, threshold,
                            size, head)
        self.term_plans[leaf_id] = plan
        return plan

    def _overlap(self, plans: tuple[TermPlan, ...], others: tuple[int, ...]) -> bool:
        """Whether two reported leaves (``plans`` and the leaf ids ``others``) can report
        the same hit: a hit carries its term (or regex) as written, so only leaves sharing
        one can."""
        if len(plans) + len(others) < 2:
            return False
        texts = [plan.text for plan in plans]
        pending = [self.nodes[node_id] for node_id, _ in map(self.leaves.__getitem__, others)]
        while pending:
            node = pending.pop()
            if isinstance(node, Term | Pattern):
                texts.append(node.text)
            elif isinstance(node, Near):
                pending += (node.left, node.right)
            elif isinstance(node, Or):
                pending += node.children
        return len(set(texts)) < len(texts)

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


def _shaped_test(source: str, shapes: dict[str, Any]) -> Any:
    """The generated test of ``source``, made once per shape (``shapes``: by source)."""
    test = shapes.get(source)
    if test is None:
        test = shapes[source] = eval(f"lambda d, f, x, m, a: {source}", {"__builtins__": {}})
    return test
