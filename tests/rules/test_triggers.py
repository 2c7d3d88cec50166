"""Trigger choice by how often atoms occur: it changes which rules are evaluated, never
which match."""

from __future__ import annotations

from tests.rules.helpers import article
from watcher.rules import Rule, RuleSet
from watcher.rules.triggers import DEFAULT_SLOT, prior_frequency

RULES = [
    Rule("a", "Kremlin AND Prigozhin"),
    Rule("b", "(Kremlin OR Moscow) AND (Wagner OR mercenar*)"),
    Rule("c", 'Kremlin NEAR/3 "Wagner group"'),
    Rule("d", "Kremlin -opera", min_hits=2),
    Rule("e", "title:Kremlin OR body:Prigozhin"),
]
TEXTS = [
    ("Kremlin says", "", "The Kremlin said little. Kremlin aides met."),
    ("Wagner opera", "", "An opera by Wagner in Moscow; the Kremlin attended."),
    ("Prigozhin", "", "Prigozhin and the Wagner group mercenaries near the Kremlin."),
    ("Nothing", "", "Weather today."),
]


def _tables(rules: RuleSet) -> dict[int, set[str]]:
    """Per atom in the default slot, the names of the rules it wakes."""
    names = {index: rule.name for index, rule in enumerate(rules.compiled.active)}
    for slot, table in rules.triggers.chosen.tables:
        if slot == DEFAULT_SLOT:
            return {atom: {names[i] for i in found} for atom, found in enumerate(table)
                    if found}
    return {}


def test_prior_prefers_rare_words() -> None:
    assert prior_frequency("|the|") > prior_frequency("|prigozhin|")
    assert prior_frequency("|mercenar") > prior_frequency("|mercenary|")
    assert prior_frequency("|the|wagner|group|") <= prior_frequency("|wagner|")


def test_learning_changes_triggers_not_matches() -> None:
    fresh = RuleSet(RULES, learn_from=0)
    learning = RuleSet(RULES, learn_from=8)
    kremlin = fresh.atoms["|kremlin|"]
    prigozhin = fresh.atoms["|prigozhin|"]
    # Before learning "Kremlin AND Prigozhin" waits for the longer word...
    assert "a" in _tables(fresh)[prigozhin]
    items = [article(*t) for t in TEXTS] * 3
    for item in items:
        assert learning.match(item) == fresh.match(item)
    assert not learning.triggers.learning  # learnt after 8 articles
    assert not fresh.triggers.learning  # never counts
    # ... and after, still for the rarer one: Kremlin is in nearly every article.
    assert "a" in _tables(learning)[prigozhin]
    assert "a" not in _tables(learning).get(kremlin, set())
    for item in items:
        assert learning.match(item) == fresh.match(item)
    assert [m.rule for m in learning.match(article(*TEXTS[2]))] == ["a", "b", "c", "e"]


def test_learning_prefers_the_atom_never_seen() -> None:
    rules = RuleSet([Rule("x", "Kremlin AND Zurovandel"), Rule("y", "Zurova AND Kremlinology")],
                    learn_from=4)
    for _ in range(4):
        rules.match(article("Kremlin", "", "Kremlin"))
    tables = _tables(rules)
    assert tables.get(rules.atoms["|zurovandel|"]) == {"x"}
    assert rules.atoms["|kremlin|"] not in tables
