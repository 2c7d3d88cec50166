"""The query language's syntax tree (``lexer.py`` and ``parser.py`` build it from text).

Precedence, loosest first: ``OR`` < ``AND`` (also implicit, by juxtaposition) < ``NOT`` / ``-``
< ``NEAR/n`` / ``ONEAR/n``. So ``a b OR c`` is ``(a AND b) OR c``, ``NOT a b`` is
``(NOT a) AND b`` and ``a NEAR b c`` is ``(a NEAR b) AND c``. Operators are upper case; a
lower-case ``and`` is a word. See docs/rules.md for the whole language.

The tree is plain frozen data; ``span`` (0-based offsets into the query text) is left out of
equality so identical sub-queries in different rules compare equal and are evaluated once.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as attribute
from typing import Any

import regex

from watcher.errors import WatcherError

TEXT_FIELDS = ("title", "summary", "body", "url", "author")
DEFAULT_FIELDS = ("title", "summary", "body")
META_FIELDS = ("site", "feed", "lang")
ALL_FIELDS = TEXT_FIELDS + META_FIELDS
DEFAULT_NEAR = 5
MIN_PREFIX = 3
MAX_DEPTH = 50
REGEX_FLAGS = regex.IGNORECASE | regex.UNICODE | regex.V0


class PickledByFields:
    """For a frozen dataclass: pickled as its class and its fields' values, and so rebuilt by
    its ``__init__``. Pickle's own way sets each attribute through the instance's ``__dict__``,
    which makes the object hold a dict of its own: at 10,000 rules, tens of thousands of them
    that a rule set compiled in place (``compiledcache.py`` keeps it pickled) never has."""

    __slots__ = ()

    def __reduce__(self) -> tuple[type, tuple[Any, ...]]:
        names: tuple[str, ...] = type(self).__match_args__  # type: ignore[attr-defined]
        return type(self), tuple(map(self.__getattribute__, names))


class QuerySyntaxError(WatcherError):
    """A query that cannot be parsed; ``column`` is 1-based within the query text."""

    def __init__(self, message: str, column: int) -> None:
        self.message = message
        self.column = column
        super().__init__(f"column {column}: {message}")


Span = tuple[int, int]


@dataclass(frozen=True)
class Term(PickledByFields):
    """A word, a phrase (several words in a row) or a prefix (last word ends with ``*``)."""

    text: str  # as written, e.g. 'defect*', '"door is always open"', '=US'
    words: tuple[str, ...]  # folded
    originals: tuple[str, ...]  # as written, NFC: compared when case_sensitive
    prefix: bool = False
    case_sensitive: bool = False
    fields: tuple[str, ...] = DEFAULT_FIELDS
    span: Span = attribute(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Pattern(PickledByFields):
    """``/regex/``: searched in the original text of each field, case-insensitively."""

    text: str
    pattern: str
    fields: tuple[str, ...] = DEFAULT_FIELDS
    span: Span = attribute(default=(0, 0), compare=False)
    compiled: regex.Pattern[str] | None = attribute(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Meta(PickledByFields):
    """``site:``, ``feed:`` or ``lang:``: a test on the article's metadata, not on words."""

    text: str
    field: str
    value: str  # lower case
    span: Span = attribute(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Near(PickledByFields):
    """Both sides within ``distance`` words of each other (``ordered``: left comes first)."""

    left: Positional
    right: Positional
    distance: int
    ordered: bool
    span: Span = attribute(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Not(PickledByFields):
    child: Node
    span: Span = attribute(default=(0, 0), compare=False)


@dataclass(frozen=True)
class And(PickledByFields):
    children: tuple[Node, ...]
    span: Span = attribute(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Or(PickledByFields):
    children: tuple[Node, ...]
    span: Span = attribute(default=(0, 0), compare=False)


Node = Term | Pattern | Meta | Near | Not | And | Or
# What NEAR can take: things that occur at word positions.
Positional = Term | Near | Or


@dataclass(frozen=True)
class Query(PickledByFields):
    text: str
    root: Node


def positional_fields(node: Positional) -> set[str]:
    """The fields in which every occurrence of ``node`` can be (NEAR compares within one)."""
    if isinstance(node, Term):
        return set(node.fields)
    if isinstance(node, Near):
        return positional_fields(node.left) & positional_fields(node.right)
    result: set[str] = set()
    for child in node.children:
        assert isinstance(child, Term | Near | Or)
        result |= positional_fields(child)
    return result
