"""A quick test an article must pass for a rule set of a few rules to match it, for when
one rule is tried on many stored articles (the web page's tester).

``RuleSet.match`` splits and folds every field of the article before it looks for any word
(``scan.py``); when one rule is tried, most articles hold too few of its words to match,
and that work is thrown away. ``Screen`` asks first, on the article's letters folded by a
code page in one C pass (``text.folded_letters``) and searched as bytes, whether the words
each rule needs are there: every side of an AND or a NEAR, one side of an OR (the rule's
trigger plan, ``triggers.py``, with every choice kept). Every folded word of a text is in
its letters, so an article screened out is one ``match`` would not match: the answers are
the same, and only the articles that pass are matched.
"""

from __future__ import annotations

from collections.abc import Sequence

from watcher.rules.engine import RuleSet
from watcher.rules.text import CODE_PAGES, folded_letters
from watcher.rules.triggers import TriggerPlan


class Screen:
    def __init__(self, rules: RuleSet) -> None:
        compiled = rules.compiled
        self.plans: tuple[TriggerPlan, ...] = compiled.trigger_plans
        # A rule that can be true without any word (NOT alone, site:, a regex) lets every
        # article through.
        self.open = any(plan is None for plan in self.plans)
        self.fields = compiled.fields_used
        # Per code page, each atom as the words it needs, or None for an atom with a
        # letter the page lacks (it cannot be in a text folded by that page).
        self._words: dict[str, list[tuple[bytes, ...] | None]] = {}
        for page in CODE_PAGES:
            self._words[page] = [_encoded(key.strip("|").split("|"), page)
                                 for key in compiled.atom_keys]

    def may_match(self, texts: Sequence[str]) -> bool:
        """False only when no rule of the set can match an article of these text fields (in
        the order of ``TEXT_FIELDS``; ``scan.field_texts`` gives an article's)."""
        if self.open:
            return True
        letters: list[tuple[bytes, list[tuple[bytes, ...] | None]]] = []
        for field in self.fields:
            text = texts[field]
            if not text:
                continue
            found = folded_letters(text)
            if found is None:  # the general path: only ``match`` can tell
                return True
            letters.append((found[0], self._words[found[1]]))
        present: dict[int, bool] = {}

        def holds(plan: TriggerPlan) -> bool:
            if plan is None:  # pragma: no cover - the set is open then
                return True
            if isinstance(plan, frozenset):  # trigger keys (atom << 3 | slot): any one
                return any(_present(key >> 3, letters, present) for key in plan)
            kind, children = plan
            return (all if kind == "and" else any)(map(holds, children))

        return any(map(holds, self.plans))


def _encoded(words: list[str], page: str) -> tuple[bytes, ...] | None:
    try:
        return tuple(word.encode(page) for word in words)
    except UnicodeEncodeError:
        return None


def _present(atom: int, letters: list[tuple[bytes, list[tuple[bytes, ...] | None]]],
             known: dict[int, bool]) -> bool:
    """Whether any field's letters hold every word of ``atom`` (searched in any field: a
    term of one field is then let through more often, never less)."""
    found = known.get(atom)
    if found is None:
        found = False
        for field, by_atom in letters:
            words = by_atom[atom]
            if words is not None and all(word in field for word in words):
                found = True
                break
        known[atom] = found
    return found
