"""How text becomes words: one tokeniser and one folding, shared by queries and articles.

A *word* is a run of letters and digits (``str.isalnum``), with any combining marks that
follow a letter (decomposed accents). Everything else separates words: spaces, punctuation,
hyphens, apostrophes, underscores, line breaks. A possessive ``'s`` (straight, curly or
modifier apostrophe) is not a word of its own, so ``Zelenskyy's`` is the word ``Zelenskyy``.

Matching compares *folded* words: lower-cased, then compatibility-decomposed (NFKD),
case-folded and stripped of marks. ``Düsseldorf``, ``DUSSELDORF`` and ``Dusseldorf`` are all
``dusseldorf``; ``Straße`` is ``strasse``; ``İstanbul`` is ``istanbul``; ``ﬁnal`` is ``final``.

Queries and articles go through exactly these functions, so a query word and an article word
agree whenever their folded forms are equal: that is the whole definition of a match.
"""

from __future__ import annotations

import re
import unicodedata
from itertools import accumulate

import regex


def _mark_class() -> str:
    """A character class of every combining mark, as ranges (a class of single characters
    this long makes ``re`` slow)."""
    ranges: list[tuple[int, int]] = []
    # Marks live in planes 0 and 1 and among the variation selectors of plane 14; skipping
    # the empty planes keeps the import fast.
    for code in (*range(0x20000), *range(0xE0000, 0xE1000)):
        if unicodedata.category(chr(code)).startswith("M"):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    return "[" + "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges) + "]"


_MARK = _mark_class()
_APOSTROPHES = "'’"  # U+02BC ʼ is a letter (Ukrainian uses it inside words)
# Plain text (no combining marks), the common case: one character class, fast in ``re``.
# The negative lookahead refuses a lone "s" right after a word and an apostrophe.
_PLAIN = rf"(?!(?<=[^\W_][{_APOSTROPHES}])[sS](?![^\W_]))[^\W_]+"
# Text with combining marks: marks join the word they follow.
_WITH_MARKS = (rf"(?!(?:(?<=[^\W_][{_APOSTROPHES}])|(?<={_MARK}[{_APOSTROPHES}]))"
               rf"[sS](?![^\W_]|{_MARK}))[^\W_](?:[^\W_]|{_MARK})*")
# Splitting with a capturing group returns separators and words alternately, in C: the
# matcher gets the words (and later their offsets) without a Python loop over the words.
_SPLIT_PLAIN = re.compile(f"({_PLAIN})")
_SPLIT_MARKS = re.compile(f"({_WITH_MARKS})")
# ``re`` is slow on a class of 300 ranges; the ``regex`` module answers "any mark?" and drops
# marks at C speed. (Its Unicode tables can be newer than Python's: a mark it knows that
# Python does not is not a letter for Python either, so it never gets inside a word.)
_HAS_MARK = regex.compile(r"\p{M}")
_MARKS = regex.compile(r"\p{M}+")


def split(text: str) -> list[str]:
    """``text`` cut into separator, word, separator, word, ..., separator."""
    if text.isascii() or not _HAS_MARK.search(text):
        return _SPLIT_PLAIN.split(text)
    return _SPLIT_MARKS.split(text)


def words(text: str) -> list[str]:
    """The words of ``text`` as written (not folded)."""
    return split(text)[1::2]


def bounds(parts: list[str]) -> list[int]:
    """Offsets for the parts of ``split``: word ``k`` is ``text[b[2k + 1]:b[2k + 2]]``."""
    return list(accumulate(map(len, parts), initial=0))


def fold_word(word: str) -> str:
    """The folded form of one word; never empty and never containing a space (the matcher
    joins folded words with single spaces, so a space inside one would shift the rest)."""
    lowered = word.lower()
    if lowered.isascii():
        return lowered
    folded = _fold(lowered).replace(" ", "")
    return folded or lowered


def _fold(lowered: str) -> str:
    # NFKD splits accents off and expands ligatures; casefold handles ß and final sigma;
    # the second NFKD decomposes what casefold produced; then the marks go.
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", lowered).casefold())
    return str(_MARKS.sub("", folded))


def fold_words(originals: list[str]) -> list[str]:
    """``[fold_word(w) for w in originals]``, done as whole-string operations. Every step
    works character by character, so folding the words joined by spaces folds each word."""
    if not originals:
        return []
    lowered = " ".join(originals).lower()
    if lowered.isascii():
        return lowered.split(" ")
    folded = _fold(lowered).split(" ")
    if len(folded) != len(originals) or "" in folded:
        # A character whose compatibility form holds a space (e.g. U+FDFA): word by word.
        return [fold_word(w) for w in originals]
    return folded


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)
