"""The parser: precedence, fields, and every syntax error with its column."""

from __future__ import annotations

import pytest

from watcher.rules import QuerySyntaxError, compile_query
from watcher.rules.query import DEFAULT_FIELDS, And, Meta, Near, Not, Or, Pattern, Term
from watcher.rules.text import fold_word, nfc, words


def shape(text: str) -> str:
    """The tree as a compact string: AND(a,b), OR(..), NOT(x), NEAR5(a,b)."""

    def walk(node: object) -> str:
        if isinstance(node, Term):
            return node.text
        if isinstance(node, Pattern | Meta):
            return node.text
        if isinstance(node, Not):
            return f"NOT({walk(node.child)})"
        if isinstance(node, Near):
            name = "ONEAR" if node.ordered else "NEAR"
            return f"{name}{node.distance}({walk(node.left)},{walk(node.right)})"
        assert isinstance(node, And | Or)
        name = "AND" if isinstance(node, And) else "OR"
        return f"{name}({','.join(walk(c) for c in node.children)})"

    return walk(compile_query(text).root)


@pytest.mark.parametrize(("query", "tree"), [
    ("a b OR c", "OR(AND(a,b),c)"),
    ("a OR b c", "OR(a,AND(b,c))"),
    ("a AND b OR c AND d", "OR(AND(a,b),AND(c,d))"),
    ("NOT a b", "AND(NOT(a),b)"),
    ("a -b", "AND(a,NOT(b))"),
    ("a NOT b", "AND(a,NOT(b))"),
    ("a OR NOT b", "OR(a,NOT(b))"),
    ("-(a OR b) c", "AND(NOT(OR(a,b)),c)"),
    ("a NEAR b c", "AND(NEAR5(a,b),c)"),
    ("a NEAR/3 b NEAR c", "NEAR5(NEAR3(a,b),c)"),
    ("a ONEAR/2 (b OR c)", "ONEAR2(a,OR(b,c))"),
    ("NOT a NEAR b", "NOT(NEAR5(a,b))"),
    ("(a OR b) (c OR d)", "AND(OR(a,b),OR(c,d))"),
    ("well-known", "well-known"),
    ("and or not", "AND(and,or,not)"),
    ("=OR =NOT", "AND(=OR,=NOT)"),
])
def test_precedence_not_and_or(query: str, tree: str) -> None:
    assert shape(query) == tree


def test_terms_record_words_prefix_case_and_fields() -> None:
    root = compile_query('title:(=US OR "door is alw*") body:defect* -site:bbc.co.uk').root
    assert isinstance(root, And)
    group, prefix, negated = root.children
    assert isinstance(group, Or)
    us, phrase = group.children
    assert isinstance(us, Term) and us.case_sensitive and us.originals == ("US",)
    assert us.fields == ("title",)
    assert isinstance(phrase, Term) and phrase.prefix and phrase.words == ("door", "is", "alw")
    assert isinstance(prefix, Term) and prefix.fields == ("body",) and prefix.prefix
    assert isinstance(negated, Not) and isinstance(negated.child, Meta)
    assert negated.child.field == "site" and negated.child.value == "bbc.co.uk"


def test_words_are_folded_and_possessives_dropped() -> None:
    term = compile_query("Zelenskyy’s").root
    assert isinstance(term, Term) and term.words == ("zelenskyy",)
    term = compile_query("DÜSSELDORF").root
    assert isinstance(term, Term) and term.words == ("dusseldorf",)
    term = compile_query("Straße").root
    assert isinstance(term, Term) and term.words == ("strasse",)
    term = compile_query("İstanbul").root
    assert isinstance(term, Term) and term.words == ("istanbul",)


@pytest.mark.parametrize("word", ["Kremlin", "MI6", "2024", "x", "ukraine", "ABCdef9"])
def test_a_plain_word_is_the_term_the_general_rules_make(word: str) -> None:
    """The parser builds a one-word ASCII term directly; it must be what splitting,
    normalising and folding the word would make, as for any other term."""
    for query, text, case_sensitive, fields in ((word, word, False, DEFAULT_FIELDS),
                                                (f"={word}", f"={word}", True, DEFAULT_FIELDS),
                                                (f"title:{word}", word, False, ("title",))):
        term = compile_query(query).root
        assert isinstance(term, Term)
        assert term.words == tuple(fold_word(w) for w in words(word))
        assert term.originals == tuple(nfc(w) for w in words(word))
        assert (term.text, term.prefix, term.case_sensitive, term.fields) == (
            text, False, case_sensitive, fields)


def test_feed_glob_and_lang_are_metadata() -> None:
    assert shape("feed:bbc-* lang:en") == "AND(feed:bbc-*,lang:en)"
    assert shape("url:https://bbc.co.uk") == "https://bbc.co.uk"


@pytest.mark.parametrize(("query", "message", "column"), [
    ("", "empty query", 1),
    ("MI6 AND (defect* OR x", "unbalanced parenthesis", 9),
    ("a) b", "unbalanced parenthesis", 2),
    ("titel:Putin", "unknown field 'titel:' (did you mean 'title:'?)", 1),
    ("a AND titel:x", "unknown field 'titel:'", 7),
    ("a NEAR", "NEAR needs terms on both sides", 3),
    ("NEAR b", "NEAR needs terms on both sides", 1),
    ("a NEAR/x b", "NEAR/ needs a number", 3),
    ("a ONEAR/5000 b", "ONEAR/ needs a number of words from 0 to 1000", 3),
    ("a AND", "AND needs terms on both sides", 3),
    ("OR a", "OR needs terms on both sides", 1),
    ("a OR OR b", "OR needs terms on both sides", 3),
    ("NOT", "NOT needs a term after it", 1),
    ("de*", "a prefix needs at least 3 letters", 1),
    ("x de*fect", "'*' is only allowed at the end of a word", 5),
    ('a "door is', "unterminated phrase", 3),
    ('""', "empty phrase", 1),
    ("a /b", "unterminated regex", 3),
    ("a /(b/", "invalid regex: missing )", 6),
    ("a /b)/", "invalid regex", 5),
    ("/x*/", "matches the empty string", 1),
    ("a - b", "'-' must be written right before a term", 3),
    ("= US", "has no letters or digits", 1),
    ("()", "empty parentheses", 1),
    ("a &", "'&' has no letters or digits", 3),
    ("x NEAR (a b)", "NEAR works on words, phrases and OR-groups, not AND", 8),
    ("x NEAR site:bbc.co.uk", "not site:/feed:/lang:", 8),
    ("x NEAR /re/", "not a /regex/", 8),
    ("title:a NEAR body:b", "search different fields", 9),
    ("title: x", "title: needs a word", 1),
    ("feed:/x/", "cannot be used with feed:", 6),
    ("site:=x", "'=' has no meaning for site:", 7),
    ("(" * 60 + "a" + ")" * 60, "nested too deeply", 51),
])
def test_syntax_errors_point_at_the_column(query: str, message: str, column: int) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        compile_query(query)
    assert message in caught.value.message
    assert caught.value.column == column
