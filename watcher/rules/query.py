"""The query language: lexer, parser and the syntax tree.

Precedence, loosest first: ``OR`` < ``AND`` (also implicit, by juxtaposition) < ``NOT`` / ``-``
< ``NEAR/n`` / ``ONEAR/n``. So ``a b OR c`` is ``(a AND b) OR c``, ``NOT a b`` is
``(NOT a) AND b`` and ``a NEAR b c`` is ``(a NEAR b) AND c``. Operators are upper case; a
lower-case ``and`` is a word. See docs/rules.md for the whole language.

The tree is plain frozen data; ``span`` (0-based offsets into the query text) is left out of
equality so identical sub-queries in different rules compare equal and are evaluated once.
"""

from __future__ import annotations

import dataclasses
import functools
import unicodedata
from dataclasses import dataclass
from dataclasses import field as attribute

import regex

from watcher.errors import WatcherError
from watcher.rules.text import fold_word, nfc, words

TEXT_FIELDS = ("title", "summary", "body", "url", "author")
DEFAULT_FIELDS = ("title", "summary", "body")
META_FIELDS = ("site", "feed", "lang")
ALL_FIELDS = TEXT_FIELDS + META_FIELDS
DEFAULT_NEAR = 5
MIN_PREFIX = 3
MAX_DEPTH = 50
REGEX_FLAGS = regex.IGNORECASE | regex.UNICODE | regex.V0


class QuerySyntaxError(WatcherError):
    """A query that cannot be parsed; ``column`` is 1-based within the query text."""

    def __init__(self, message: str, column: int) -> None:
        self.message = message
        self.column = column
        super().__init__(f"column {column}: {message}")


Span = tuple[int, int]


@dataclass(frozen=True)
class Term:
    """A word, a phrase (several words in a row) or a prefix (last word ends with ``*``)."""

    text: str  # as written, e.g. 'defect*', '"door is always open"', '=US'
    words: tuple[str, ...]  # folded
    originals: tuple[str, ...]  # as written, NFC: compared when case_sensitive
    prefix: bool = False
    case_sensitive: bool = False
    fields: tuple[str, ...] = DEFAULT_FIELDS
    span: Span = attribute(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Pattern:
    """``/regex/``: searched in the original text of each field, case-insensitively."""

    text: str
    pattern: str
    fields: tuple[str, ...] = DEFAULT_FIELDS
    span: Span = attribute(default=(0, 0), compare=False)
    compiled: regex.Pattern[str] | None = attribute(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Meta:
    """``site:``, ``feed:`` or ``lang:``: a test on the article's metadata, not on words."""

    text: str
    field: str
    value: str  # lower case
    span: Span = attribute(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Near:
    """Both sides within ``distance`` words of each other (``ordered``: left comes first)."""

    left: Positional
    right: Positional
    distance: int
    ordered: bool
    span: Span = attribute(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Not:
    child: Node
    span: Span = attribute(default=(0, 0), compare=False)


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]
    span: Span = attribute(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]
    span: Span = attribute(default=(0, 0), compare=False)


Node = Term | Pattern | Meta | Near | Not | And | Or
# What NEAR can take: things that occur at word positions.
Positional = Term | Near | Or


@dataclass(frozen=True)
class Query:
    text: str
    root: Node


@functools.lru_cache(maxsize=32768)
def compile_query(text: str) -> Query:
    """Parse ``text``; raises QuerySyntaxError pointing at the offending column.

    Cached: a reload of rules.yaml re-parses only the queries that changed."""
    return Query(text, _Parser(text).parse())


# ---------------------------------------------------------------------------------------------
# Lexer


@dataclass(frozen=True)
class _Token:
    kind: str  # ( ) AND OR NOT - NEAR FIELD = WORD PHRASE REGEX END
    text: str
    start: int
    end: int
    distance: int = 0
    ordered: bool = False


_FIELD_RE = regex.compile(r"([A-Za-z]+):(?!//)")
_NEAR_RE = regex.compile(r"(O?NEAR)(?:/(.*))?")
_STOP = frozenset(' \t\r\n()"')


def _lex(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos, size = 0, len(text)
    while pos < size:
        char = text[pos]
        if char.isspace():
            pos += 1
        elif char in "()":
            tokens.append(_Token(char, char, pos, pos + 1))
            pos += 1
        elif char == '"':
            close = text.find('"', pos + 1)
            if close < 0:
                raise QuerySyntaxError("unterminated phrase (missing closing \")", pos + 1)
            tokens.append(_Token("PHRASE", text[pos:close + 1], pos, close + 1))
            pos = close + 1
        elif char == "/":
            pos = _lex_regex(text, pos, tokens)
        elif char == "-" and pos + 1 < size and not text[pos + 1].isspace() \
                and text[pos + 1] != ")":
            tokens.append(_Token("-", char, pos, pos + 1))  # -term: NOT term
            pos += 1
        elif char == "=" and pos + 1 < size and (text[pos + 1] == '"'
                                                 or text[pos + 1] not in _STOP):
            tokens.append(_Token("=", char, pos, pos + 1))  # =US: case-sensitive
            pos += 1
        elif (field_match := _FIELD_RE.match(text, pos)) and field_match.end() < size \
                and not text[field_match.end()].isspace():
            tokens.append(_Token("FIELD", field_match.group(1), pos, field_match.end()))
            pos = field_match.end()
        elif field_match:
            name = field_match.group(1)
            if name.lower() in ALL_FIELDS:
                raise QuerySyntaxError(
                    f"{name}: needs a word, phrase or (group) right after it", pos + 1)
            raise QuerySyntaxError(_unknown_field(name), pos + 1)
        else:
            end = pos
            while end < size and text[end] not in _STOP:
                end += 1
            tokens.append(_word_token(text[pos:end], pos, end))
            pos = end
    tokens.append(_Token("END", "", size, size))
    return tokens


def _lex_regex(text: str, pos: int, tokens: list[_Token]) -> int:
    end = pos + 1
    while end < len(text) and text[end] != "/":
        end += 2 if text[end] == "\\" else 1
    if end >= len(text):
        raise QuerySyntaxError("unterminated regex (missing closing /)", pos + 1)
    tokens.append(_Token("REGEX", text[pos:end + 1], pos, end + 1))
    return end + 1


def _word_token(word: str, start: int, end: int) -> _Token:
    if word in ("AND", "OR", "NOT"):
        return _Token(word, word, start, end)
    near = _NEAR_RE.fullmatch(word)
    if near:
        ordered = near.group(1) == "ONEAR"
        if near.group(2) is None:
            return _Token("NEAR", word, start, end, DEFAULT_NEAR, ordered)
        if not near.group(2).isdigit() or not 0 <= int(near.group(2)) <= 1000:
            raise QuerySyntaxError(
                f"{near.group(1)}/ needs a number of words from 0 to 1000, e.g. "
                f"{near.group(1)}/5", start + 1)
        return _Token("NEAR", word, start, end, int(near.group(2)), ordered)
    return _Token("WORD", word, start, end)


def _unknown_field(name: str) -> str:
    from watcher.config import did_you_mean  # config imports nothing from rules

    hint = did_you_mean(f"{name.lower()}:", [f"{f}:" for f in ALL_FIELDS])
    return f"unknown field '{name}:'{hint}"


# ---------------------------------------------------------------------------------------------
# Parser

_OPERAND_START = frozenset({"(", "WORD", "PHRASE", "REGEX", "FIELD", "=", "NOT", "-"})
_PRIMARY_START = frozenset({"(", "WORD", "PHRASE", "REGEX", "FIELD", "="})


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _lex(text)
        self.index = 0
        self.fields: list[str] = []  # innermost field context last
        self.depth = 0

    @property
    def tok(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def fail(self, message: str, token: _Token) -> QuerySyntaxError:
        return QuerySyntaxError(message, token.start + 1)

    def parse(self) -> Node:
        if self.tok.kind == "END":
            raise QuerySyntaxError("empty query", 1)
        node = self.parse_or()
        if self.tok.kind == ")":
            raise self.fail("unbalanced parenthesis (no '(' before this ')')", self.tok)
        if self.tok.kind != "END":  # pragma: no cover - every other token continues an AND
            raise self.fail(f"unexpected '{self.tok.text}'", self.tok)
        return node

    def parse_or(self) -> Node:
        start = self.tok.start
        children = [self.parse_and()]
        while self.tok.kind == "OR":
            operator = self.advance()
            if self.tok.kind not in _OPERAND_START:
                raise self.fail("OR needs terms on both sides", operator)
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else Or(
            tuple(children), (start, self.tokens[self.index - 1].end))

    def parse_and(self) -> Node:
        if self.tok.kind in ("AND", "OR"):
            raise self.fail(f"{self.tok.kind} needs terms on both sides", self.tok)
        start = self.tok.start
        children = [self.parse_unary()]
        while True:
            if self.tok.kind == "AND":
                operator = self.advance()
                if self.tok.kind not in _OPERAND_START:
                    raise self.fail("AND needs terms on both sides", operator)
            elif self.tok.kind not in _OPERAND_START:
                break
            children.append(self.parse_unary())
        return children[0] if len(children) == 1 else And(
            tuple(children), (start, self.tokens[self.index - 1].end))

    def parse_unary(self) -> Node:
        if self.tok.kind in ("NOT", "-"):
            operator = self.advance()
            if self.tok.kind not in _OPERAND_START:
                what = "NOT" if operator.kind == "NOT" else "'-'"
                raise self.fail(f"{what} needs a term after it", operator)
            self.enter(operator)
            child = self.parse_unary()
            self.depth -= 1
            return Not(child, (operator.start, self.tokens[self.index - 1].end))
        return self.parse_near()

    def parse_near(self) -> Node:
        left = self.parse_primary()
        while self.tok.kind == "NEAR":
            operator = self.advance()
            if self.tok.kind not in _PRIMARY_START:
                raise self.fail(f"{_near_name(operator)} needs terms on both sides", operator)
            right_token = self.tok
            right = self.parse_primary()
            left_pos = self.positional(left, operator)
            right_pos = self.positional(right, right_token)
            if not _fields_overlap(left_pos, right_pos):
                raise self.fail(f"{_near_name(operator)} compares words in the same field, "
                                "but its two sides search different fields", operator)
            left = Near(left_pos, right_pos, operator.distance, operator.ordered,
                        (left.span[0], right.span[1]))
        return left

    def positional(self, node: Node, where: _Token) -> Positional:
        if isinstance(node, Term | Near):
            return node
        if isinstance(node, Or) and all(isinstance(c, Term | Near | Or) for c in node.children):
            for child in node.children:
                self.positional(child, where)
            return node
        what = {Pattern: "a /regex/", Meta: "site:/feed:/lang:", And: "AND", Not: "NOT"}
        if isinstance(node, Or):
            node = next(c for c in node.children if not isinstance(c, Term | Near | Or))
        found = next(v for k, v in what.items() if isinstance(node, k))
        raise QuerySyntaxError(f"NEAR works on words, phrases and OR-groups, not {found}",
                               node.span[0] + 1 if node.span != (0, 0) else where.start + 1)

    def enter(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail("query is nested too deeply", token)

    def parse_primary(self) -> Node:
        token = self.tok
        kind = token.kind
        if kind == "FIELD":
            self.advance()
            name = token.text.lower()
            if name not in ALL_FIELDS:
                raise self.fail(_unknown_field(token.text), token)
            if self.tok.kind not in _PRIMARY_START or self.tok.start != token.end:
                raise self.fail(f"{name}: needs a word, phrase or (group) right after it", token)
            self.enter(token)
            self.fields.append(name)
            node = self.parse_primary()
            self.fields.pop()
            self.depth -= 1
            if isinstance(node, Term | Pattern | Meta):  # the span includes the field name
                node = dataclasses.replace(node, span=(token.start, node.span[1]))
            return node
        if kind == "(":
            self.advance()
            if self.tok.kind == ")":
                raise self.fail("empty parentheses", token)
            self.enter(token)
            node = self.parse_or()
            self.depth -= 1
            if self.tok.kind != ")":
                raise self.fail("unbalanced parenthesis (this '(' is never closed)", token)
            close = self.advance()
            return _with_span(node, (token.start, close.end))
        if kind == "=":
            self.advance()
            target = self.tok
            if target.kind not in ("WORD", "PHRASE", "AND", "OR", "NOT", "NEAR") \
                    or target.start != token.end:
                raise self.fail("'=' needs a word or \"phrase\" right after it (=US)", token)
            self.advance()
            if target.kind != "PHRASE":  # =OR is the word "OR" (Oregon), not the operator
                target = _Token("WORD", target.text, target.start, target.end)
            return self.leaf(target, case_sensitive=True, start=token.start)
        if kind in ("WORD", "PHRASE", "REGEX"):
            self.advance()
            return self.leaf(token, case_sensitive=False, start=token.start)
        if kind == ")":
            raise self.fail("unbalanced parenthesis (no '(' before this ')')", token)
        if kind in ("AND", "OR"):
            raise self.fail(f"{kind} needs terms on both sides", token)
        if kind == "NEAR":
            raise self.fail(f"{_near_name(token)} needs terms on both sides", token)
        if kind in ("NOT", "-"):
            raise self.fail("NOT cannot be used here (put it in parentheses: (NOT x))", token)
        raise self.fail("query ends too early", token)

    def leaf(self, token: _Token, *, case_sensitive: bool, start: int) -> Node:
        field_name = self.fields[-1] if self.fields else None
        written = self.text[start:token.end]
        span = (start, token.end)
        if token.kind == "REGEX":
            if field_name in META_FIELDS:
                raise self.fail(f"a /regex/ cannot be used with {field_name}:", token)
            return _regex_leaf(token, written, span, _fields(field_name))
        body = token.text[1:-1] if token.kind == "PHRASE" else token.text
        if field_name in META_FIELDS:
            if case_sensitive:
                raise self.fail(f"'=' has no meaning for {field_name}:", token)
            value = body.strip().lower()
            if not value:
                raise self.fail(f"{field_name}: needs a value", token)
            return Meta(f"{field_name}:{written}", field_name, value, span)
        return _term_leaf(token, body, written, span, case_sensitive, _fields(field_name))


def _fields(name: str | None) -> tuple[str, ...]:
    return DEFAULT_FIELDS if name is None else (name,)


def _term_leaf(token: _Token, body: str, written: str, span: Span, case_sensitive: bool,
               fields: tuple[str, ...]) -> Term:
    column = token.start + 1
    prefix = body.rstrip().endswith("*")
    if prefix:
        body = body.rstrip()[:-1]
    if "*" in body:
        raise QuerySyntaxError("'*' is only allowed at the end of a word (defect*)",
                               column + (1 if token.kind == "PHRASE" else 0) + body.index("*"))
    if token.kind == "WORD" and body == "-" * len(body):
        raise QuerySyntaxError("'-' must be written right before a term (-opera)", column)
    originals = tuple(nfc(w) for w in words(body))
    if not originals:
        if token.kind == "PHRASE" and not body.strip():
            raise QuerySyntaxError("empty phrase", column)
        raise QuerySyntaxError(f"'{token.text}' has no letters or digits to search for",
                               column)
    folded = tuple(fold_word(w) for w in originals)
    if prefix and (len(folded[-1]) < MIN_PREFIX or not _ends_in_word(body)):
        raise QuerySyntaxError(
            f"a prefix needs at least {MIN_PREFIX} letters before '*' (e.g. defect*)", column)
    return Term(written, folded, originals, prefix, case_sensitive, fields, span)


def _regex_leaf(token: _Token, written: str, span: Span, fields: tuple[str, ...]) -> Pattern:
    source = token.text[1:-1].replace("\\/", "/")
    if not source:
        raise QuerySyntaxError("empty regex", token.start + 1)
    try:
        compiled = regex.compile(source, REGEX_FLAGS)
    except regex.error as exc:
        offset = exc.pos if isinstance(exc.pos, int) else 0
        raise QuerySyntaxError(f"invalid regex: {exc.msg}",
                               token.start + 2 + min(offset, len(source))) from exc
    # A pattern that can match nothing at all would match every article: refuse it, the
    # same way a regex that can never match is the mistake users never notice.
    if compiled.search("", timeout=0.1) is not None:
        raise QuerySyntaxError("this regex matches the empty string (it would match every "
                               "article)", token.start + 1)
    return Pattern(written, source, fields, span, compiled)


def _with_span(node: Node, span: Span) -> Node:
    """The node of a parenthesised group, with the span of the parentheses (for errors
    and explanations)."""
    if isinstance(node, Term | Pattern | Meta):
        return node  # a term keeps its own span: its text is what hits report
    return dataclasses.replace(node, span=span)


def _ends_in_word(body: str) -> bool:
    last = body[-1:]
    return bool(last) and (last.isalnum() or unicodedata.category(last).startswith("M"))


def _near_name(token: _Token) -> str:
    return "ONEAR" if token.ordered else "NEAR"


def positional_fields(node: Positional) -> set[str]:
    if isinstance(node, Term):
        return set(node.fields)
    if isinstance(node, Near):
        return positional_fields(node.left) & positional_fields(node.right)
    result: set[str] = set()
    for child in node.children:
        assert isinstance(child, Term | Near | Or)
        result |= positional_fields(child)
    return result


def _fields_overlap(left: Positional, right: Positional) -> bool:
    return bool(positional_fields(left) & positional_fields(right))
