"""The scans that spare most texts a rewrite give what the full rewrite gives, on any text.

``encodable`` and the seed file's one-line fields look for the rare character first and
rewrite only a text that holds one; these compare them with the rewrite done every time.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from watcher.store.files import _LINE_BREAKS, _one_line
from watcher.textsafe import SURROGATES, encodable

# Every character either function treats specially, beside ordinary ones.
_BREAKS = "\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_SPECIAL = st.sampled_from([*_BREAKS, " ", "\t", "\xa0", "\ud800", "\udbff", "\udc00",
                            "\udfff", "a", "é", "\u202e", "\x00"])
_ANY = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())
_TEXTS = st.lists(st.one_of(_SPECIAL, _ANY), max_size=40).map("".join)


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
