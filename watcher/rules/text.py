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

``cut`` does the same for a whole article field at C speed (see ``Words``): the matcher runs it
on every field of every article, and per-character work in Python would cost more than the
multi-pattern search itself.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from bisect import bisect_left, bisect_right
from itertools import accumulate, count
from operator import add

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


# -- whole fields at C speed ---------------------------------------------------------------------
#
# Most news text fits an 8-bit code page (English with curly quotes and dashes in cp1252,
# Russian in cp1251). Encoded there, one 256-byte table does in one ``bytes.translate`` what
# ``split`` and ``fold_words`` do: a letter or digit becomes its folded form (``É`` -> ``e``),
# anything else a space; ``bytes.split`` then gives the folded words. A character whose folded
# form is not one character of the same code page (``ß`` -> ``ss``, ``½``), and any text that
# does not encode (Korean, combining marks), takes the general path above, line by line, so one
# foreign paragraph does not slow a whole body. Tests check both paths give the same words.

_CODE_PAGES = ("cp1252", "cp1251")
_SEPARATOR_ERRORS = "watcher-rules-separator"


def _separator_error(error: UnicodeError) -> tuple[str, int]:
    """Encode error handler: characters outside the code page become spaces if they separate
    words anyway (``−``, thin spaces, emoji); a letter, digit or mark stops the encoding."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    chunk = error.object[error.start:error.end]
    if any(c.isalnum() or unicodedata.category(c).startswith("M") for c in chunk):
        raise error
    return " " * len(chunk), error.end


codecs.register_error(_SEPARATOR_ERRORS, _separator_error)


class _CodePage:
    """The translation table of one code page, and what it cannot fold by itself."""

    def __init__(self, name: str) -> None:
        self.name = name
        table = bytearray(b" " * 256)
        unsupported: list[bytes] = []
        for byte in range(256):
            try:
                char = bytes((byte,)).decode(name)
            except UnicodeDecodeError:
                continue
            if not char.isalnum():
                if unicodedata.category(char).startswith("M"):  # pragma: no cover - none
                    unsupported.append(bytes((byte,)))
                continue
            folded = fold_word(char)
            encoded = folded.encode(name, "replace")
            if len(folded) == 1 and len(encoded) == 1 and encoded != b"?" and encoded != b" ":
                table[byte] = encoded[0]
            else:
                unsupported.append(bytes((byte,)))
        # In the table a space means "not a letter or digit": everything else is one.
        self.table = bytes(table)
        self.unsupported = tuple(unsupported)
        self.apostrophes = tuple(a.encode(name) for a in _APOSTROPHES)

    def fold(self, text: str) -> bytes | None:
        """``text`` with every letter folded and every separator a space, one byte per
        character (so offsets are the text's); None when this code page cannot do it."""
        if text.isascii():
            raw = text.encode("ascii")
        else:
            try:
                raw = text.encode(self.name, _SEPARATOR_ERRORS)
            except UnicodeEncodeError as error:
                # The traceback holds the error handler's frame, which holds the error: a
                # cycle that would keep every caller's frame (the whole article being
                # matched) alive until a garbage collection. Cut it here.
                error.__traceback__ = None
                return None
            if any(byte in raw for byte in self.unsupported):
                return None
        folded = raw.translate(self.table)
        for apostrophe in self.apostrophes:
            if apostrophe in raw:
                folded = _drop_possessives(raw, folded, apostrophe)
        return folded


def _drop_possessives(raw: bytes, folded: bytes, apostrophe: bytes) -> bytes:
    """``folded`` with each possessive "s" (a lone s after a word and an apostrophe, as in
    ``_PLAIN``) made a space. Apostrophes are few, so a loop over them is cheaper than a
    regex over every byte."""
    found: list[int] = []
    find, size, start = raw.find, len(raw), 1
    while (index := find(apostrophe, start)) >= 0:
        start = index + 1
        after = index + 2
        if (raw[index + 1:after] in (b"s", b"S") and folded[index - 1] != 32
                and (after >= size or folded[after] == 32)):
            found.append(index + 1)
    if not found:
        return folded
    changed = bytearray(folded)
    for index in found:
        changed[index] = 32
    return bytes(changed)


_PAGES = tuple(_CodePage(name) for name in _CODE_PAGES)


def _fold_bytes(text: str) -> tuple[bytes, str] | None:
    for page in _PAGES:  # ASCII text is done by the first
        folded = page.fold(text)
        if folded is not None:
            return folded, page.name
    return None


class Words:
    """One text field cut into words and folded, as ``fold_words(words(text))`` would.

    ``joined`` is the folded words between single spaces, with a space at each end
    (``" mi6 chief says "``): what the automaton searches. ``index`` and ``span`` turn offsets
    in ``joined`` back into word numbers and offsets in ``text``. They are asked about a few
    hits per field, so they avoid building a list of every word: where a field (or a line of
    it) took the code-page path, its part of ``joined`` is the folded text with runs of
    separators squeezed to one space, and an offset maps back through the few runs longer
    than one character.
    """

    __slots__ = ("_chunks", "_firsts", "_maps", "joined", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        # Per stretch with words: where its first word is in joined, where the stretch is in
        # text, and its folded bytes and code page, or its ``split`` parts and None.
        self._chunks: list[tuple[int, int, bytes | list[str], str | None]] = []
        self._maps: dict[int, tuple[list[int], list[int], list[int] | None]] = {}
        whole = _fold_bytes(text) if text else None
        if whole is not None:
            joined = _joined(*whole)
            if joined:
                self._chunks.append((1, 0, *whole))
            self.joined = " " + joined + " "
        else:
            # Line by line, so that one paragraph the code pages cannot do (Korean, combining
            # marks) does not send the whole field down the general path.
            pieces: list[str] = []
            offset, position = 0, 1
            for line in text.split("\n") if text else ():
                found = _fold_bytes(line)
                if found is not None:
                    chunk: tuple[bytes | list[str], str | None] = found
                    joined = _joined(*found)
                else:
                    parts = split(line)
                    chunk = (parts, None)
                    joined = " ".join(fold_words(parts[1::2]))
                if joined:
                    self._chunks.append((position, offset, *chunk))
                    pieces.append(joined)
                    position += len(joined) + 1
                offset += len(line) + 1
            self.joined = " " + " ".join(pieces) + " "
        self._firsts = [chunk[0] for chunk in self._chunks]

    def index(self, start: int) -> int:
        """The number of the word that starts at offset ``start`` of ``joined``."""
        return self.joined.count(" ", 0, start) - 1

    def span(self, start: int, stop: int) -> tuple[int, int]:
        """Offsets in ``text`` of the words at ``joined[start:stop]`` (whole words)."""
        if len(self._chunks) == 1:  # the common case, inlined: one stretch, one code page
            first, offset, _, page = self._chunks[0]
            if page is not None:
                where, removed, _ = self._maps.get(0) or self._map(0)
                local = start - first + 1
                begin = offset + local + removed[bisect_right(where, local)] - 1
                last = stop - first
                return begin, offset + last + removed[bisect_right(where, last)]
        return self._start(start), self._stop(stop)

    def _start(self, start: int) -> int:
        number = bisect_right(self._firsts, start) - 1
        first, offset, _, page = self._chunks[number]
        local = start - first + 1  # in " " + the stretch's words + " "
        where, removed, _ = self._map(number)
        if page is not None:
            return offset + local + removed[bisect_right(where, local)] - 1
        return offset + removed[bisect_left(where, local - 1)]

    def _stop(self, stop: int) -> int:
        number = bisect_right(self._firsts, stop - 1) - 1
        first, offset, _, _ = self._chunks[number]
        local = stop - first + 1
        where, removed, ends = self._map(number)
        if ends is None:
            last = local - 1
            return offset + last + removed[bisect_right(where, last)]
        return offset + ends[bisect_left(where, local) - 1]

    def _map(self, number: int) -> tuple[list[int], list[int], list[int] | None]:
        """How one stretch maps back to the text, worked out on first use.

        Code page: its folded bytes are the text's, one byte per character; its words in
        joined are ``" " + bytes + " "`` with each run of spaces squeezed to its last space.
        ``where`` is the offset in joined of each squeezed run, ``removed`` the spaces
        squeezed out before it. General path: per word, the offset of the space before it
        in joined, and where the word starts and ends in the stretch.
        """
        found = self._maps.get(number)
        if found is None:
            _, _, data, page = self._chunks[number]
            if page is not None:
                padded = b" " + data + b" "  # type: ignore[operator]
                where: list[int] = []
                removed = [0]
                for run in _RUNS.finditer(padded):
                    first, after = run.span()
                    where.append(first - removed[-1])
                    removed.append(removed[-1] + after - first - 1)
                found = (where, removed, None)
            else:
                parts: list[str] = data  # type: ignore[assignment]
                folded = fold_words(parts[1::2])
                space_before = list(map(add, accumulate(map(len, folded), initial=0), count()))
                edges = bounds(parts)
                found = (space_before, edges[1:-1:2], edges[2:-1:2])
            self._maps[number] = found
        return found


_RUNS = re.compile(b"  +")


def _joined(folded: bytes, page: str) -> str:
    """The words of folded bytes between single spaces, in one C pass: folded bytes hold no
    whitespace but the spaces that stand for separators (the table never makes a letter a
    space, tab or newline), so ``split()`` splits exactly at runs of them."""
    folded = b" ".join(folded.split())
    return folded.decode("ascii" if folded.isascii() else page)


def cut(text: str) -> Words:
    return Words(text)
