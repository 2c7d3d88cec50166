"""The query language's parser: tokens into the syntax tree of ``query.py``.

Precedence, loosest first: ``OR`` < ``AND`` (also implicit, by juxtaposition) < ``NOT`` / ``-``
< ``NEAR/n`` / ``ONEAR/n`` (see ``query.py`` and docs/rules.md).
"""

from __future__ import annotations

import dataclasses
import functools
import unicodedata

import regex

from watcher.rules.lexer import Token, lex, unknown_field
from watcher.rules.query import (
    ALL_FIELDS,
    DEFAULT_FIELDS,
    MAX_DEPTH,
    META_FIELDS,
    MIN_PREFIX,
    REGEX_FLAGS,
    And,
    Meta,
    Near,
    Node,
    Not,
    Or,
    Pattern,
    Positional,
    Query,
    QuerySyntaxError,
    Span,
    Term,
    positional_fields,
)
from watcher.rules.text import fold_word, nfc, words


@functools.lru_cache(maxsize=32768)
def compile_query(text: str) -> Query:
    """Parse ``text``; raises QuerySyntaxError pointing at the offending column.

    Cached: a reload of rules.yaml re-parses only the queries that changed."""
    return Query(text, Parser(text).parse())


_OPERAND_START = frozenset({"(", "WORD", "PHRASE", "REGEX", "FIELD", "=", "NOT", "-"})
_PRIMARY_START = frozenset({"(", "WORD", "PHRASE", "REGEX", "FIELD", "="})


class Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = lex(text)
        self.index = 0
        # The current token: an attribute, not a property over ``index``, as the parser
        # looks at it some twenty times a query.
        self.tok = self.tokens[0]
        self.fields: list[str] = []  # innermost field context last
        self.depth = 0

    def advance(self) -> Token:
        token = self.tok
        if token.kind != "END":  # never consumed: every rule of the grammar stops at it
            self.index += 1
            self.tok = self.tokens[self.index]
        return token

    def fail(self, message: str, token: Token) -> QuerySyntaxError:
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

    def positional(self, node: Node, where: Token) -> Positional:
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

    def enter(self, token: Token) -> None:
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
                raise self.fail(unknown_field(token.text), token)
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
                target = Token("WORD", target.text, target.start, target.end)
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

    def leaf(self, token: Token, *, case_sensitive: bool, start: int) -> Node:
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


def _term_leaf(token: Token, body: str, written: str, span: Span, case_sensitive: bool,
               fields: tuple[str, ...]) -> Term:
    if body.isascii() and body.isalnum():
        # Most terms are one plain word: no prefix, and it is its own single word and NFC
        # form, folded by lower-casing (as ``words``, ``nfc`` and ``fold_word`` would find).
        return Term(written, (body.lower(),), (body,), False, case_sensitive, fields, span)
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


def _regex_leaf(token: Token, written: str, span: Span, fields: tuple[str, ...]) -> Pattern:
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


def _near_name(token: Token) -> str:
    return "ONEAR" if token.ordered else "NEAR"




def _fields_overlap(left: Positional, right: Positional) -> bool:
    return bool(positional_fields(left) & positional_fields(right))
