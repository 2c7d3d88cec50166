"""Why a query matched (or did not): the query's tree, each part marked with what it found.

``explain`` evaluates the tree with the same machinery as ``RuleSet.match`` (one private
rule set holding just this query), so an explanation never disagrees with a match.
"""

from __future__ import annotations

from dataclasses import dataclass

from watcher.rules.compiler import CompiledRules, Rule
from watcher.rules.engine import RuleSet
from watcher.rules.query import And, Meta, Near, Node, Not, Or, Pattern, Query, Term
from watcher.rules.scan import Scan
from watcher.types import Article, Hit


@dataclass(frozen=True)
class Explanation:
    """One part of a query: ``text`` as written, whether it ``matched``, and where."""

    text: str
    kind: str  # word, phrase, prefix, regex, site, feed, lang, AND, OR, NOT, NEAR/5, ONEAR/3
    matched: bool
    hits: tuple[Hit, ...] = ()
    children: tuple[Explanation, ...] = ()
    note: str = ""

    def lines(self, article: Article | None = None, indent: int = 0) -> list[str]:
        """Readable lines, one per part; with ``article``, each hit shows the text found."""
        mark = "+" if self.matched else "-"
        head = f"{'  ' * indent}{mark} {self.text}"
        if self.kind in ("AND", "OR", "NOT") or self.kind.startswith(("NEAR", "ONEAR")):
            head = f"{'  ' * indent}{mark} {self.kind}"
            if self.kind.startswith(("NEAR", "ONEAR")):
                head += f" ({self.text})"
        details = [self.note] if self.note else []
        if self.hits and not self.children:
            shown = [_where(hit, article) for hit in self.hits[:5]]
            more = len(self.hits) - len(shown)
            details.append(", ".join(shown) + (f" and {more} more" if more > 0 else ""))
        out = [head + (": " + "; ".join(details) if details else "")]
        for child in self.children:
            out.extend(child.lines(article, indent + 1))
        return out


def _where(hit: Hit, article: Article | None) -> str:
    if article is None:
        return f"{hit.field}[{hit.start}:{hit.end}]"
    text = {"title": article.title, "summary": article.description, "body": article.body,
            "url": article.url, "author": article.author}.get(hit.field, "")
    return f"{hit.field} {text[hit.start:hit.end]!r}"


def explain(query: Query | Rule | str, article: Article) -> Explanation:
    """Explain ``query`` (a compiled query, a rule, or query text) against ``article``."""
    return Explainer(query).explain(article)


class Explainer:
    """``explain`` for one query and many articles: the query is compiled once. Not shared
    between threads (explaining adds sub-queries to the compiled rules)."""

    def __init__(self, query: Query | Rule | str) -> None:
        self.min_hits = 1
        if isinstance(query, Rule):
            self.min_hits, self.text = max(1, query.min_hits), query.query
        else:
            self.text = query.text if isinstance(query, Query) else query
        self.rules = RuleSet([Rule(name="explain", query=self.text, min_hits=self.min_hits)])

    def explain(self, article: Article) -> Explanation:
        rules = self.rules
        return _explain(rules.compiled, rules.scan(article), rules.queries["explain"].root,
                        True, self.min_hits, self.text)


def _explain(rules: CompiledRules, scan: Scan, node: Node, positive: bool, min_hits: int,
             query: str) -> Explanation:
    threshold = min_hits if positive else 1
    if isinstance(node, Not):
        child = _explain(rules, scan, node.child, not positive, min_hits, query)
        return Explanation(_source(node, query), "NOT", not child.matched, (), (child,))
    if isinstance(node, And | Or):
        children = tuple(_explain(rules, scan, c, positive, min_hits, query)
                         for c in node.children)
        verdict = (all if isinstance(node, And) else any)(c.matched for c in children)
        return Explanation(_source(node, query), "AND" if isinstance(node, And) else "OR", verdict,
                           (), children)
    if isinstance(node, Meta):
        return Explanation(node.text, node.field, scan.holds(rules.node_id(node), 1))
    node_id = rules.node_id(node)
    found = scan.leaf_hits(rules.leaf_id(node, 1))
    matched = scan.holds(node_id, threshold)
    note = ""
    if found and not matched:
        note = f"found {len(found)} time(s), min_hits is {threshold}"
    if isinstance(node, Near):
        kind = f"{'ONEAR' if node.ordered else 'NEAR'}/{node.distance}"
        sides = tuple(_explain(rules, scan, side, positive, 1, query)
                      for side in (node.left, node.right))
        if not matched and all(side.matched for side in sides):
            note = note or "both found, never close enough"
        return Explanation(_source(node, query), kind, matched, found, sides, note)
    if isinstance(node, Pattern):
        return Explanation(node.text, "regex", matched, found, (), note)
    assert isinstance(node, Term)
    kind = "prefix" if node.prefix else "phrase" if len(node.words) > 1 else "word"
    if node.fields != ("title", "summary", "body"):
        kind += " in " + "/".join(node.fields)
    return Explanation(node.text, kind, matched, found, (), note)


def _source(node: Node, query: str) -> str:
    start, end = node.span
    return query[start:end] if end > start else _render(node)


def _render(node: Node) -> str:
    """The node as query text (for composite nodes, whose own text is not kept)."""
    if isinstance(node, Term | Pattern | Meta):
        return node.text
    if isinstance(node, Not):
        return f"NOT {_render(node.child)}"
    if isinstance(node, Near):
        name = "ONEAR" if node.ordered else "NEAR"
        return f"{_render(node.left)} {name}/{node.distance} {_render(node.right)}"
    joiner = " AND " if isinstance(node, And) else " OR "
    return "(" + joiner.join(_render(c) for c in node.children) + ")"
