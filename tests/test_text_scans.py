"""The scans that spare most texts a rewrite give what the full rewrite gives, on any text.

``encodable``, the seed file's one-line fields and the extraction's ``clean_text`` look for
what they would change first and rewrite only a text that holds it; these compare them
with the rewrite done every time. The standfirst test of a class name looks for the words
its regex needs before it runs the regex; it is compared with the regex alone.
"""

from __future__ import annotations

import sys
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from watcher.extract.metadata import _STANDFIRST_MARK, is_standfirst_mark
from watcher.extract.text import _INVISIBLE, _SPACE, clean_text
from watcher.store.files import _LINE_BREAKS, _one_line
from watcher.textsafe import SURROGATES, encodable

# Every character either function treats specially, beside ordinary ones.
_BREAKS = "\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_SPECIAL = st.sampled_from([*_BREAKS, " ", "\t", "\xa0", "\ud800", "\udbff", "\udc00",
                            "\udfff", "a", "é", "\u202e", "\x00"])
_ANY = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())
_TEXTS = st.lists(st.one_of(_SPECIAL, _ANY), max_size=40).map("".join)
# Every white space character Python knows, the two no-break spaces among them, and the
# invisible characters clean_text drops (a space can close up around one).
_SPACES = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
_SPACED = st.lists(st.one_of(st.sampled_from([*_SPACES, "\u200b", "\u00ad", "a", "b"]), _ANY),
                   max_size=40).map("".join)


@given(_TEXTS)
def test_encodable_replaces_exactly_the_lone_surrogates(text: str) -> None:
    assert encodable(text) == text.translate(SURROGATES)
    encodable(text).encode("utf-8")


@given(_TEXTS)
def test_one_line_is_the_full_rewrite(text: str) -> None:
    assert _one_line(text) == _LINE_BREAKS.sub(" ", text).strip()


def test_each_line_break_is_found() -> None:
    for brk in _BREAKS:
        assert _one_line(f"a \t{brk}{brk} \tb") == "a b"


@given(_SPACED)
def test_clean_text_is_the_full_rewrite(text: str) -> None:
    every_time = _SPACE.sub(" ", _INVISIBLE.sub("", unicodedata.normalize("NFC", text)))
    assert clean_text(text) == every_time.strip()


def test_clean_text_closes_up_each_kind_of_space() -> None:
    for space in _SPACES:
        if space not in "\u00a0\u202f":
            assert clean_text(f"a {space}b{space}{space}c") == "a b c", repr(space)
    assert clean_text("a\u00a0 b") == "a\u00a0 b"


# Pieces of class names: the regex's words in any case, parts of them, the characters
# case-blind matching pairs with ASCII letters (Kelvin sign, long s, dotted and dotless i),
# and separators that make or break a word boundary.
_MARK_PIECES = st.sampled_from([
    "standfirst", "deck", "dec", "dek", "sub", "title", "head", "sub-title", "subhead",
    "strap", "intro", "lede", "lead", "excerpt", "teaser", "summary", "description",
    "abstract", "synopsis", "kicker", "STANDFIRST", "Lead", "DeK", "ki", "cker", "de", "k",
    "\u212a", "\u017f", "\u0130", "\u0131", "\u212aicker", "-", "_", " ", "x",
    "1", "é"])
_MARKS = st.lists(st.one_of(_MARK_PIECES, _ANY), max_size=8).map("".join)


@given(_MARKS)
def test_standfirst_mark_is_the_regex(marks: str) -> None:
    assert is_standfirst_mark(marks) == (_STANDFIRST_MARK.search(marks) is not None)


def test_standfirst_mark_finds_each_word_in_any_case() -> None:
    for marks in ("article-standfirst", "deck", "story-dek", "sub-title", "SubHead",
                  "strapline", "intro-text", "lede", "lead", "Excerpt", "teaser",
                  "summary", "description", "abstract", "synopsis", "kicker",
                  "\u212aicker", "\u017fummary"):
        assert is_standfirst_mark(marks), marks
    # the words inside longer ones, where the regex asks for a word boundary, and others
    for marks in ("leader", "decoration", "story__dek", "article-body", "headline", "nav"):
        assert not is_standfirst_mark(marks), marks
