"""Which rules to evaluate for an article: each rule's *trigger set*, atoms of which at least
one must occur for the rule to be true.

For ``a AND b`` a rule is woken by the side expected in fewer articles, for ``a OR b`` by
both; a rule that can be true without any word (pure ``NOT``, ``site:``, ``/regex/``) is
evaluated for every article. How often an atom occurs is first guessed (``prior_frequency``);
a ``Triggers`` then counts the atoms of the first ``learn_from`` articles it is shown and lets
every rule choose again by what it counted. Triggers only decide which rules are evaluated,
never which match (a trigger is a necessary condition), so results do not depend on them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Literal, NamedTuple

from watcher.rules.query import (
    DEFAULT_FIELDS,
    TEXT_FIELDS,
    Meta,
    Near,
    Node,
    Not,
    Or,
    Pattern,
    Term,
)

# The trigger slot of terms searching the default fields; the other slots are field indexes.
DEFAULT_SLOT = len(TEXT_FIELDS)
# How many articles the engine counts atoms in before choosing its triggers again: enough
# for the common words of a feed mix to stand out from the rare ones.
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

# Which atoms can wake a sub-query: a set of trigger keys (``atom << 3 | slot``) of which one
# must occur; None if it can be true without any; or a choice left to ``Triggers``:
# ("and", plans), any one of which will do as all must hold, or ("or", plans), all needed.
TriggerPlan = frozenset[int] | tuple[Literal["and", "or"], tuple["TriggerPlan", ...]] | None
# Per slot, a list indexed by atom of the rules (by index) it wakes, None where it wakes none
TriggerTable = list[tuple[int, ...] | None]


class Chosen(NamedTuple):
    """The triggers in force: swapped in whole, so a concurrent ``match`` sees the old ones or
    the new ones."""

    always: tuple[int, ...]  # the rules (by index) evaluated for every article
    tables: list[tuple[int, TriggerTable]]  # by slot


def prior_frequency(key: str) -> float:
    """The guessed number of articles out of 300 in which an atom occurs."""
    found = min(_COMMON_WEIGHT if word in _COMMON else 1.0 / max(len(word) - 1, 1)
                for word in key.strip("|").split("|"))
    return found * 4 if not key.endswith("|") else found


def trigger_plan(node: Node, atom_of: Callable[[Term], int]) -> TriggerPlan:
    """Which atoms can wake ``node`` (see ``TriggerPlan``); ``atom_of`` gives a term's atom.
    A term's keys are in the slots of the fields it searches."""
    if isinstance(node, Term):
        atom = atom_of(node)
        if node.fields == DEFAULT_FIELDS:
            return frozenset((atom << 3 | DEFAULT_SLOT,))
        return frozenset(atom << 3 | TEXT_FIELDS.index(name) for name in node.fields)
    if isinstance(node, Pattern | Meta | Not):
        return None
    children: list[TriggerPlan]
    if isinstance(node, Near):  # both sides must occur: either will do
        children = [trigger_plan(node.left, atom_of), trigger_plan(node.right, atom_of)]
        kind: Literal["and", "or"] = "and"
    else:
        children = [trigger_plan(child, atom_of) for child in node.children]
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


class Triggers:
    """The trigger tables of a rule set: per slot, atom -> the rules it wakes, each rule
    choosing the atoms least likely to occur; and the rules evaluated for every article.

    ``learn_from``: after counting the atoms of that many articles (``learn``), every rule
    chooses again by the counts; 0 keeps the guess for good."""

    def __init__(self, plans: Sequence[TriggerPlan], atom_keys: Sequence[str],
                 learn_from: int = LEARN_FROM) -> None:
        self._plans = tuple(plans)
        self.learn_from = learn_from
        # How many articles out of learn_from each atom is expected in: a prior until
        # learn_from articles have been counted, then what was counted.
        self._estimate = [prior_frequency(key) for key in atom_keys]
        self._seen = 0
        self._counts: Counter[int] | None = Counter() if learn_from > 0 else None
        self.chosen = self._choose()

    @property
    def learning(self) -> bool:
        """Whether atoms are still being counted (then ``learn`` wants each article's)."""
        return self._counts is not None

    def learn(self, present: Iterable[int]) -> None:
        """Count one article's atoms; at ``learn_from`` articles, choose again."""
        counts = self._counts
        if counts is None:  # pragma: no cover - a concurrent call finished learning
            return
        counts.update(present)
        self._seen += 1
        if self._seen >= self.learn_from:
            self._counts = None
            prior, seen = self._estimate, self.learn_from
            # The prior stays as a fraction of one article: it only orders the unseen.
            self._estimate = [counts.get(atom, 0) + min(prior[atom], seen) / seen
                              for atom in range(len(prior))]
            self.chosen = self._choose()

    def _choose(self) -> Chosen:
        always: list[int] = []
        triggers: dict[int, list[int]] = {}
        for index, plan in enumerate(self._plans):
            trigger = self._resolve(plan)
            if trigger is None:
                always.append(index)
            else:
                for key in trigger:
                    triggers.setdefault(key, []).append(index)
        # A list indexed by atom rather than a dict: a lookup is one read from an array,
        # where a dict of thousands of atoms costs a hash probe and a key comparison.
        tables: dict[int, TriggerTable] = {}
        for trigger_key, found in triggers.items():
            table = tables.setdefault(trigger_key & 7, [None] * len(self._estimate))
            table[trigger_key >> 3] = tuple(found)
        return Chosen(tuple(always), sorted(tables.items()))

    def _resolve(self, plan: TriggerPlan) -> frozenset[int] | None:
        if plan is None or isinstance(plan, frozenset):
            return plan
        kind, children = plan
        found = [self._resolve(child) for child in children]
        if kind == "or":
            if any(f is None for f in found):  # pragma: no cover - folded by trigger_plan
                return None
            return frozenset().union(*found)  # type: ignore[arg-type]
        return min((f for f in found if f is not None), key=self._cost, default=None)

    def _cost(self, keys: frozenset[int]) -> float:
        estimate = self._estimate
        return sum(estimate[key >> 3] for key in keys)
