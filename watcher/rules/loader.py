"""rules.yaml: loading and validation, every problem as ``file:line:col: message``.

A query syntax error points at the column *in the file* where the bad token is (not in the
query string), and carries the query with a caret under it in ``Problem.detail``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from pathlib import Path

from watcher.config import Section, as_bool, as_positive_int, as_str, as_str_list, did_you_mean
from watcher.errors import ConfigError, Problem
from watcher.rules.compiler import Rule
from watcher.rules.engine import RuleSet
from watcher.rules.parser import compile_query
from watcher.rules.query import QuerySyntaxError
from watcher.yamlpos import YamlDoc, YamlPath, load_yaml

RULE_KEYS = {"name", "query", "any", "all", "none", "feeds", "alert", "digests", "channels",
             "enabled", "description", "tags", "min_hits"}
ALERTS = ("digest", "immediate")
_NONE: tuple[str, ...] = ()


def load_rules(path: Path, *, digests: Collection[str] | None = None,
               channels: Collection[str] | None = None,
               environ: Mapping[str, str] | None = None) -> RuleSet:
    """Load and compile rules.yaml; raises ConfigError listing every problem."""
    rules, problems = check_rules(path, digests=digests, channels=channels, environ=environ)
    if problems or rules is None:
        raise ConfigError(problems)
    return rules


def check_rules(path: Path, *, digests: Collection[str] | None = None,
                channels: Collection[str] | None = None,
                environ: Mapping[str, str] | None = None
                ) -> tuple[RuleSet | None, list[Problem]]:
    """Validate rules.yaml. ``digests``/``channels``: the names the config defines; rules
    referring to others are problems (None: not checked)."""
    doc = load_yaml(path, display_name=str(path), environ=environ)
    if doc.data is None:
        return None, doc.problems
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):  # pragma: no cover - load_yaml just read it
        source = ""
    top = Section(doc, (), {"rules"})
    rules: list[Rule] = []
    names: dict[str, int] = {}
    for item in top.items("rules"):
        name, rule = _rule(doc, source, item, digests, channels)
        if name in names:
            doc.problem((*item, "name"), f"duplicate rule name '{name}' (first defined on "
                                         f"line {names[name]})")
        elif name:
            names[name] = doc.where((*item, "name"))[0]
            if rule is not None:
                rules.append(rule)
    if doc.problems:
        return None, sorted(doc.problems, key=lambda p: (p.line, p.col))
    return RuleSet(rules), []


def _rule(doc: YamlDoc, source: str, path: YamlPath, digests: Collection[str] | None,
          channels: Collection[str] | None) -> tuple[str, Rule | None]:
    """The rule's name and the rule (None when it has problems, which are recorded)."""
    s = Section(doc, path, RULE_KEYS)
    before = len(doc.problems)
    name = s.require("name", as_str, "").strip()
    query = _query(doc, source, path, s)
    alert = s.get("alert", as_str, "digest")
    if alert not in ALERTS:
        doc.problem((*path, "alert"),
                    f"alert: expected 'digest' or 'immediate', got '{alert}'"
                    f"{did_you_mean(alert, ALERTS)}")
    rule_digests = s.get("digests", as_str_list, _NONE) if s.has("digests") else None
    rule_channels = s.get("channels", as_str_list, _NONE)
    _check_names(doc, path, "digests", "digest", rule_digests or (), digests)
    _check_names(doc, path, "channels", "channel", rule_channels, channels)
    if rule_channels and alert != "immediate":
        doc.problem((*path, "channels"), "channels: only used by rules with alert: immediate "
                                         "(digests are sent to the digest's own channels)")
    rule = Rule(
        name=name, query=query or "",
        feeds=s.get("feeds", as_str_list, _NONE),
        alert="immediate" if alert == "immediate" else "digest",
        digests=rule_digests, channels=rule_channels,
        enabled=s.get("enabled", as_bool, True),
        description=s.get("description", as_str, ""),
        tags=s.get("tags", as_str_list, _NONE),
        min_hits=s.get("min_hits", as_positive_int, 1))
    return name, (rule if len(doc.problems) == before and name and query else None)


def _check_names(doc: YamlDoc, path: YamlPath, key: str, what: str, used: tuple[str, ...],
                 known: Collection[str] | None) -> None:
    if known is None:
        return
    for index, name in enumerate(used):
        if name not in known:
            hint = did_you_mean(name, tuple(known)) or (
                f" (no {what}s are configured)" if not known else "")
            doc.problem((*path, key, index), f"unknown {what} '{name}'{hint}")


# ---------------------------------------------------------------------------------------------
# query / any / all / none


def _query(doc: YamlDoc, source: str, path: YamlPath, s: Section) -> str | None:
    """The rule's query text (lists compiled into it), or None after recording problems."""
    parts: list[str] = []
    ok = True
    if s.has("query"):
        text = s.get("query", as_str, "")
        if _compiles(doc, source, (*path, "query"), text):
            parts.append(text)
        else:
            ok = False
    for key in ("any", "all", "none"):
        if not s.has(key):
            continue
        items = s.get(key, as_str_list, _NONE)
        if not items:
            doc.problem((*path, key), f"{key}: needs at least one term")
            ok = False
        terms = []
        for index, item in enumerate(items):
            term, shift = _sugar_term(item)
            if not _compiles(doc, source, (*path, key, index), item, compiled=term,
                             shift=shift):
                ok = False
            terms.append(term)
        if terms:
            joined = " AND ".join(terms) if key == "all" else " OR ".join(terms)
            parts.append(f"NOT ({joined})" if key == "none" else joined)
    if not parts and ok:
        doc.problem(path, "a rule needs 'query:' (or 'any:'/'all:' lists)")
        return None
    if not ok:
        return None
    if len(parts) == 1:
        return parts[0]
    return " AND ".join(f"({p})" for p in parts)


def _sugar_term(item: str) -> tuple[str, int]:
    """One entry of an any/all/none list as query text, and where ``item`` starts in it:
    words with spaces are a phrase (``door is always open``); an entry with quotes or
    parentheses is a query of its own, kept together by parentheses."""
    lead = len(item) - len(item.lstrip())
    item = item.strip()
    if re.search(r"\s", item) and not re.search(r"[\"()]", item):
        return f'"{item}"', 1 - lead
    if re.search(r"\s", item):
        return f"({item})", 1 - lead
    return item, -lead


def _compiles(doc: YamlDoc, source: str, path: YamlPath, text: str,
              compiled: str | None = None, shift: int = 0) -> bool:
    """Compile ``compiled`` (default: ``text``, the value at ``path``; ``text`` starts at
    ``shift`` in it); on a syntax error record a problem at the column inside the file."""
    try:
        compile_query(compiled if compiled is not None else text)
        return True
    except QuerySyntaxError as exc:
        offset = min(max(exc.column - 1 - shift, 0), max(len(text) - 1, 0))
        line, col = doc.where(path)
        line, col = locate(source, line, col, text, offset)
        doc.problems.append(Problem(doc.file, line, col, exc.message, caret(text, offset)))
        return False


def caret(query: str, offset: int) -> str:
    """The query line holding ``offset`` with a caret under it, indented."""
    start = query.rfind("\n", 0, offset) + 1
    end = query.find("\n", offset)
    line = query[start:end if end >= 0 else len(query)]
    return f"    {line}\n    {' ' * (offset - start)}^"


def locate(source: str, line: int, col: int, text: str, offset: int) -> tuple[int, int]:
    """Line and column in ``source`` of ``text[offset]``, where ``text`` is the value of the
    YAML scalar starting at ``line``:``col``. Plain, quoted and block scalars are walked
    character by character (quotes, escapes, folding and indentation are skipped)."""
    lines = source.splitlines(keepends=True)
    if not 1 <= line <= len(lines):
        return line, col
    starts = [0]
    for each in lines:
        starts.append(starts[-1] + len(each))
    pos = starts[line - 1] + col - 1
    if pos < len(source) and source[pos] in "'\"":
        pos += 1
    elif pos < len(source) and source[pos] in "|>":
        pos = source.find("\n", pos) + 1 or len(source)
    for index, char in enumerate(text[:offset + 1]):
        found = _next_match(source, pos, char)
        if found < 0:
            return line, col
        if index == offset:
            pos = found
            break
        pos = found + 1
    row = max(i for i, s in enumerate(starts[:-1]) if s <= pos) if pos < len(source) else \
        len(lines) - 1
    return row + 1, pos - starts[row] + 1


def _next_match(source: str, pos: int, char: str, limit: int = 200) -> int:
    """The next position at or after ``pos`` holding ``char`` (any whitespace for a space:
    YAML folds line breaks), skipping at most ``limit`` characters of quoting/indentation."""
    for probe in range(pos, min(len(source), pos + limit)):
        if source[probe] == char or (char.isspace() and source[probe].isspace()):
            return probe
    return -1
