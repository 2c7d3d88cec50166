"""Matching many rules against one article at a cost that follows the article, not the rules.

1. The article's text fields are split into words and folded once (``text.py``); each field
   becomes its folded words between bars, ``"|mi6|chief|  says|"``, where the spaces (the
   rest of a run of separators) are skipped by the automaton and keep every offset the
   text's own.
2. One Aho-Corasick automaton holds every distinct term of every rule (an *atom*, see
   ``compiler.py``). One pass per field finds every atom of every rule (``scan.py``).
3. Only the rules woken by an atom that occurred (``triggers.py``) are evaluated, plus the
   few that can be true without any word (pure ``NOT``, ``site:``, ``/regex/``).
4. A woken rule's boolean logic runs as a small generated Python expression over the atoms
   found (``compiler.py``); metadata (``site:``, ``feed:``, ``lang:``) is a set of the
   conditions that hold, worked out once per feed; whatever needs positions asks the scan.
5. Hits are built only for the rules that matched (``scan.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from fnmatch import fnmatchcase
from functools import cached_property
from itertools import chain

from watcher.rules.compiler import CompiledRules, Rule
from watcher.rules.query import Query
from watcher.rules.scan import Scan, meta_holds
from watcher.rules.triggers import DEFAULT_SLOT, LEARN_FROM, Triggers
from watcher.types import Article, RuleMatch

# RuleMatch is a named tuple: tuple.__new__ builds one in C, where calling the class runs its
# Python-level __new__ (a frame each; ``match`` builds one per match).
_new = tuple.__new__
# Per feed (and per feed, site and language) answers kept: more than any configuration has,
# few enough that a stream of made-up feed names cannot grow them without end.
_CACHE_LIMIT = 10_000


class RuleSet:
    """Rules compiled into one automaton. Immutable after construction but for what it
    learns about its articles (``triggers.py``); ``match`` is thread-safe (each call keeps
    its state in its own ``Scan``).

    ``learn_from``: how many articles to count atoms in before choosing the triggers again
    (0: keep the built-in guess)."""

    def __init__(self, rules: Iterable[Rule], *, learn_from: int = LEARN_FROM) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        self._by_name = {rule.name: rule for rule in self.rules}
        if len(self._by_name) != len(self.rules):
            raise ValueError("rule names must be unique")
        self._learn_from = learn_from
        self._feed_cache: dict[str, frozenset[int]] = {}
        self._metadata_holding: dict[tuple[str, str, str | None], frozenset[int]] = {}

    # Compiled on first use: a daemon hands its matching to worker processes, which compile
    # their own, so its copy only names the rules and their settings.
    @cached_property
    def compiled(self) -> CompiledRules:
        return CompiledRules(self.rules)

    @cached_property
    def triggers(self) -> Triggers:
        return Triggers(self.compiled.trigger_plans, self.compiled.atom_keys, self._learn_from)

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def get(self, name: str) -> Rule | None:
        return self._by_name.get(name)

    @property
    def queries(self) -> dict[str, Query]:
        """Each rule's compiled query, by rule name."""
        return self.compiled.queries

    @property
    def atoms(self) -> dict[str, int]:
        """The automaton's patterns (see ``compiler.atom_key``) and their atom numbers."""
        return self.compiled.atoms

    def scan(self, article: Article) -> Scan:
        """``article`` scanned for these rules, to ask about sub-queries (``explain``)."""
        return Scan(self.compiled, article)

    def match(self, article: Article) -> tuple[RuleMatch, ...]:
        """The enabled rules that match ``article`` (and whose feed globs fit its feed), in
        rule order, each with the hits of its non-negated terms."""
        scan = Scan(self.compiled, article)
        default, per_field = scan.default, scan.atoms
        triggers = self.triggers
        if triggers.learning:
            triggers.learn(scan.present)
        always, tables = triggers.chosen
        # The rules woken by the atoms found, gathered by C code (map, filter, chain).
        found: list[tuple[int, ...]] = [always]
        for slot, table in tables:
            atoms = default if slot == DEFAULT_SLOT else per_field[slot]
            if atoms:
                found.extend(filter(None, map(table.__getitem__, atoms)))
        candidates = set(chain.from_iterable(found))
        excluded = self._excluded(article.feed)  # rules whose feed globs do not fit
        compiled = self.compiled
        tests, arguments, reports = compiled.tests, compiled.arguments, compiled.reports
        metadata = self.metadata_holding(article)
        rule_hits = scan.rule_hits
        matches: list[RuleMatch] = []
        for index in sorted(candidates.difference(excluded) if excluded else candidates):
            if not tests[index](default, per_field, scan, metadata, arguments[index]):
                continue
            name, plans, others, overlap = reports[index]
            matches.append(_new(RuleMatch, (name, rule_hits(plans, others, overlap))))
        return tuple(matches)

    def metadata_holding(self, article: Article) -> frozenset[int]:
        """The ids of the metadata conditions that hold for the article, worked out once per
        feed, site and language (few, and every rule's conditions on them are few)."""
        key = (article.feed, article.site, article.language)
        found = self._metadata_holding.get(key)
        if found is None:
            found = frozenset(number for meta, number in self.compiled.meta_ids.items()
                              if meta_holds(meta, article))
            if len(self._metadata_holding) < _CACHE_LIMIT:
                self._metadata_holding[key] = found
        return found

    def _excluded(self, feed: str) -> frozenset[int]:
        found = self._feed_cache.get(feed)
        if found is None:
            found = frozenset(
                index for index, globs in self._limited_to_feeds
                if not any(fnmatchcase(feed, glob) for glob in globs))
            if len(self._feed_cache) < _CACHE_LIMIT:
                self._feed_cache[feed] = found
        return found

    @cached_property
    def _limited_to_feeds(self) -> tuple[tuple[int, tuple[str, ...]], ...]:
        """(index, feed globs) of the rules that name feeds: few or none in most sets, so
        each worker's first article from each feed need not walk all ten thousand rules."""
        return tuple((index, rule.feeds) for index, rule in enumerate(self.compiled.active)
                     if rule.feeds)


__all__ = ["Rule", "RuleSet"]
