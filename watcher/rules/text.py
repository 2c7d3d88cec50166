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
from bisect import bisect_right
from collections.abc import Iterable
from functools import cache
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


_APOSTROPHES = "'’"  # U+02BC ʼ is a letter (Ukrainian uses it inside words)
# Plain text (no combining marks), the common case: one character class, fast in ``re``.
# The negative lookahead refuses a lone "s" right after a word and an apostrophe.
_PLAIN = rf"(?!(?<=[^\W_][{_APOSTROPHES}])[sS](?![^\W_]))[^\W_]+"
# Splitting with a capturing group returns separators and words alternately, in C: the
# matcher gets the words (and later their offsets) without a Python loop over the words.
_SPLIT_PLAIN = re.compile(f"({_PLAIN})")


@cache
def _marks_splitter() -> re.Pattern[str]:
    """``split`` for text with combining marks: marks join the word they follow. Built
    on first use: the class of every mark is a scan of two Unicode planes, which every
    process importing this module (the command line, the daemon) would otherwise pay at
    start for text few of them see."""
    mark = _mark_class()
    with_marks = (rf"(?!(?:(?<=[^\W_][{_APOSTROPHES}])|(?<={mark}[{_APOSTROPHES}]))"
                  rf"[sS](?![^\W_]|{mark}))[^\W_](?:[^\W_]|{mark})*")
    return re.compile(f"({with_marks})")


# ``re`` is slow on a class of 300 ranges; the ``regex`` module answers "any mark?" and drops
# marks at C speed. (Its Unicode tables can be newer than Python's: a mark it knows that
# Python does not is not a letter for Python either, so it never gets inside a word.)
_HAS_MARK = regex.compile(r"\p{M}")
_MARKS = regex.compile(r"\p{M}+")


def split(text: str) -> list[str]:
    """``text`` cut into separator, word, separator, word, ..., separator."""
    if text.isascii() or not _HAS_MARK.search(text):
        return _SPLIT_PLAIN.split(text)
    return _marks_splitter().split(text)


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
# anything else a space, keeping every offset (see ``Words``). A character whose folded
# form is not one character of the same code page (``ß`` -> ``ss``, ``½``), and any text that
# does not encode (Korean, combining marks), takes the general path above, line by line, so one
# foreign paragraph does not slow a whole body. Tests check both paths give the same words.

CODE_PAGES = ("cp1252", "cp1251")
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
        unsupported: list[int] = []
        for byte in range(256):
            try:
                char = bytes((byte,)).decode(name)
            except UnicodeDecodeError:
                continue
            if not char.isalnum():
                if unicodedata.category(char).startswith("M"):  # pragma: no cover - none
                    unsupported.append(byte)
                continue
            folded = fold_word(char)
            encoded = folded.encode(name, "replace")
            if len(folded) == 1 and len(encoded) == 1 and encoded != b"?" and encoded != b" ":
                table[byte] = encoded[0]
            else:
                unsupported.append(byte)
        # In the table a space means "not a letter or digit": everything else is one.
        self.table = bytes(table)
        # As byte values, not one-byte strings: ``b"x" in raw`` first tries the argument as an
        # int and raises (and clears) a TypeError, a formatted message each time.
        self.unsupported = tuple(unsupported)
        self.apostrophes = tuple(a.encode(name)[0] for a in _APOSTROPHES)

    def encode(self, text: str) -> bytes | None:
        """``text`` in this code page, ready for ``table``; None when this code page cannot
        fold it (a character it lacks, or one the table cannot fold by itself)."""
        if text.isascii():
            return text.encode("ascii")
        try:
            raw = text.encode(self.name, _SEPARATOR_ERRORS)
        except UnicodeEncodeError as error:
            # The traceback holds the error handler's frame, which holds the error: a
            # cycle that would keep every caller's frame (the whole article being
            # matched) alive until a garbage collection. Cut it here.
            error.__traceback__ = None
            return None
        if any(map(raw.__contains__, self.unsupported)):
            return None
        return raw

    def fold(self, text: str) -> bytes | None:
        """``text`` with every letter folded and every separator a space, one byte per
        character (so offsets are the text's); None when this code page cannot do it."""
        raw = self.encode(text)
        if raw is None:
            return None
        folded = raw.translate(self.table)
        found = [index for apostrophe in self.apostrophes if apostrophe in raw
                 for index in _possessives(raw, folded, apostrophe)]
        if not found:
            return folded
        changed = bytearray(folded)
        for index in found:
            changed[index] = 32
        return bytes(changed)


def _possessives(raw: bytes, folded: bytes, apostrophe: int) -> list[int]:
    """Where each possessive "s" is (a lone s after a word and an apostrophe, as in
    ``_PLAIN``). Every kind of apostrophe is judged on the same folded text, before any s is
    dropped, as the general path's one regex does ("a's’s" loses both). Apostrophes are few,
    so a loop over them is cheaper than a regex over every byte."""
    found: list[int] = []
    find, size, start = raw.find, len(raw), 1
    while (index := find(apostrophe, start)) >= 0:
        start = index + 1
        after = index + 2
        if (raw[index + 1:after] in (b"s", b"S") and folded[index - 1] != 32
                and (after >= size or folded[after] == 32)):
            found.append(index + 1)
    return found


_PAGES = tuple(_CodePage(name) for name in CODE_PAGES)


def _fold_bytes(text: str) -> tuple[bytes, str] | None:
    for page in _PAGES:  # ASCII text is done by the first
        folded = page.fold(text)
        if folded is not None:
            return folded, page.name
    return None


def folded_letters(text: str) -> tuple[bytes, str] | None:
    """``text`` folded by the code page ``Words`` would fold it with (and that page's name),
    possessive s kept: every word of ``Words(text)`` is in it, as that page encodes it, so
    a word it lacks is not in the text. Cheaper than ``Words``, for a quick "can this text
    hold these words?"; None where the text takes the general path."""
    for page in _PAGES:
        raw = page.encode(text)
        if raw is not None:
            return raw.translate(page.table), page.name
    return None


class Words:
    """One text field cut into words and folded, as ``fold_words(words(text))`` would, laid
    out for the automaton.

    ``joined`` has each folded word between bars, ``"|mi6|chief|says|"``, with one bar per run
    of separators and the rest of the run as spaces, which the automaton skips
    (``ignore_white_space``): the pattern ``"|door|is|"`` finds "door, is". Where the field
    took a code page (nearly all news text), ``joined`` is the folded text itself, one
    character per character of ``text`` after a leading bar: an offset maps back by
    subtracting one, with no table. A line that took the general path is its folded words
    between single bars instead, and maps back through its words' offsets.
    """

    __slots__ = ("_aligned", "_pieces", "_positions", "joined", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        whole = _fold_bytes(text) if text else None
        # Per line that took the general path (and, around them, per stretch that did not):
        # where it starts in joined, where in text, and its words' (starts, ends) in text
        # relative to that and their starts in joined, or None where joined is the folded
        # text itself.
        self._pieces: list[tuple[int, int, tuple[list[int], list[int], list[int]] | None]] = []
        if whole is not None or not text:
            self._aligned = True
            self.joined = _barred(_decoded(*whole) if whole is not None else "")
        else:
            self._aligned = False
            pieces: list[str] = []
            position, offset = 1, 0  # where the line starts in joined (after the padding's
            # bar) and in text
            covered = False  # whether an aligned entry covers this line
            for line in text.split("\n"):
                found = _fold_bytes(line)
                if found is not None:
                    piece = _decoded(*found)  # as long as the line
                    if not covered:
                        self._pieces.append((position, offset, None))
                        covered = True
                else:
                    parts = split(line)
                    folded = fold_words(parts[1::2])
                    piece = " ".join(folded)
                    edges = bounds(parts)
                    # A word's number in a line is found by bisection in these, not by counting
                    # bars from the line's start (quadratic over a long line's many hits).
                    starts = list(accumulate(map(_plus_one, map(len, folded)), initial=position))
                    self._pieces.append((position, offset,
                                         (edges[1:-1:2], edges[2:-1:2], starts)))
                    # What follows is aligned again, from the newline on.
                    self._pieces.append((position + len(piece), offset + len(line), None))
                    covered = True
                pieces.append(piece)
                position += len(piece) + 1  # the newline is a separator in both
                offset += len(line) + 1
            self.joined = _barred(" ".join(pieces))
        self._positions = [piece[0] for piece in self._pieces]

    @property
    def aligned(self) -> bool:
        """Whether the whole field took a code page: ``joined[i + 1]`` is ``text[i]`` folded."""
        return self._aligned

    @property
    def empty(self) -> bool:
        """Whether the field has no words at all (a second bar closes the first word)."""
        return self.joined.find("|", 1) < 0

    def index(self, start: int, after: int = 0, number: int = -1) -> int:
        """The number of the word that starts at offset ``start`` of ``joined``, counting on
        from ``number`` at offset ``after`` (an earlier answer: numbering many words in order
        reads the text once, not once per word)."""
        return number + self.joined.count("|", after, start)

    def start(self, end: int, length: int, size: int, first: int) -> int:
        """Where in ``joined`` an automaton hit ending at ``end`` starts (its first letter),
        for a pattern ``length`` long of ``size`` words, the first ``first`` letters long."""
        if size == 1:
            return end - length + 2
        # Skipped spaces may lie between the words: step back over the bars between them.
        rfind = self.joined.rfind
        for _ in range(size - 1):
            end = rfind("|", 0, end)
        return end - first

    def spans(self, hits: Iterable[tuple[int, int]], length: int, size: int, first: int,
              prefix: bool) -> list[tuple[int, int]]:
        """Offsets in ``text`` of automaton hits ``(end, value)`` of one pattern (``length``
        long, of ``size`` words, the first ``first`` letters long, open-ended if ``prefix``):
        for a prefix, of the whole word it begins."""
        # Loops, not comprehensions: a comprehension is a function call of its own in
        # Python 3.11, and this runs for every term of every match, mostly for one hit.
        found: list[tuple[int, int]] = []
        find = self.joined.find
        if self._aligned and size == 1:  # the common case: arithmetic only
            back = length - 1
            for end, _ in hits:
                found.append((end - back, find("|", end + 1) - 1 if prefix else end - 1))
        else:
            for end, _ in hits:
                found.append(self.span(self.start(end, length, size, first),
                                       find("|", end + 1) if prefix else end))
        return found

    def span(self, start: int, stop: int) -> tuple[int, int]:
        """Offsets in ``text`` of the words at ``joined[start:stop]`` (whole words)."""
        if self._aligned:
            return start - 1, stop - 1
        return self._text_offset(start, 0), self._text_offset(stop, 1)

    def _text_offset(self, where: int, ending: int) -> int:
        number = bisect_right(self._positions, where - ending) - 1
        position, offset, edges = self._pieces[number]
        if edges is None:
            return offset + where - position
        word = bisect_right(edges[2], where) - 1
        return offset + edges[ending][word]


_plus_one = (1).__add__


def _decoded(folded: bytes, page: str) -> str:
    return folded.decode("ascii" if folded.isascii() else page)


def _barred(folded: str) -> str:
    """Folded text (words and spaces) padded with a separator at each end, each run of
    separators made one bar and as many spaces as it had characters more, in three C passes:
    every space a bar, then the second of each pair of bars a space (which leaves a run of
    bars alternating with spaces), then every bar after a space a space."""
    return (" " + folded + " ").replace(" ", "|").replace("||", "| ").replace(" |", "  ")
