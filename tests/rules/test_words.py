"""``text.Words`` (the code-page fast path, line by line where it cannot) cuts and folds
exactly as the slow general path does: ``fold_words(words(text))``, with the same offsets."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.rules.text import Words, _fold_bytes, bounds, fold_words, split

# Words of several scripts: plain ASCII, Western (cp1252) and Cyrillic (cp1251) letters,
# letters no code page folds alone (ß, ligatures, ½, İ), Greek, CJK, Korean, Arabic, and
# combining accents; possessives and apostrophes inside words.
SAMPLES = [
    "MI6", "door", "Düsseldorf", "DÜSSELDORF", "Du\u0308sseldorf", "café", "cafe\u0301",
    "naïve", "Œuvre", "Straße", "ﬁnal", "½", "İstanbul", "Зеленский", "ЁЛКА", "Київ", "ʼ",
    "ΣΊΣΥΦΟΣ", "σίσυφος", "東京", "서울", "القاهرة", "Zelenskyy's", "Zelenskyy’s", "O'Brien",
    "s", "S", "2024", "x\u0301\u0302y", "ǅemal", "Ⅻ", "workers'",
]
SEPARATORS = [" ", "  ", ", ", ". ", "\n", "\n\n", " — ", "-", "'", "’", "_", "\u00a0",
              "\u2009", " − ", " 😀 ", "\t", " «", "» ", "\u0301", "/"]

mixed = st.lists(st.tuples(st.sampled_from(SAMPLES), st.sampled_from(SEPARATORS)),
                 max_size=20).map(lambda pairs: "".join(w + s for w, s in pairs))
anything = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]),
                   max_size=60)


def _layout(joined: str) -> list[tuple[int, int]]:
    """Where each word is in ``joined``, read the slow way: after a bar and any spaces, up to
    the next bar."""
    # one bar per run of separators, the rest plain spaces (the only whitespace it may hold)
    assert joined.startswith("|") and "||" not in joined
    assert not any(c.isspace() for c in joined.replace(" ", ""))
    found: list[tuple[int, int]] = []
    position = 1
    while (stop := joined.find("|", position)) >= 0:
        start = position
        while joined[start] == " ":
            start += 1
        if start < stop:
            found.append((start, stop))
        position = stop + 1
    return found


def _check(text: str) -> None:
    parts = split(text)
    folded = fold_words(parts[1::2])
    edges = bounds(parts)
    found = Words(text)
    layout = _layout(found.joined)
    assert [found.joined[a:b] for a, b in layout] == folded
    assert found.joined.replace(" ", "") == "|" + "".join(w + "|" for w in folded)
    assert found.empty == (not folded)
    if _fold_bytes(text) is not None:  # the code-page path: one character per character
        assert len(found.joined) == len(text) + 2
    for number, (start, stop) in enumerate(layout):
        assert found.index(start) == number
        if number:  # counted on from the previous word, as a term's occurrences are
            assert found.index(start, layout[number - 1][0], number - 1) == number
        assert found.span(start, stop) == (edges[2 * number + 1], edges[2 * number + 2])
        # the start of a hit of this word, and of a phrase ending with it, from its end
        word = folded[number]
        assert found.start(stop, len(word) + 2, 1, len(word)) == start
        # the text of hits of this word, and of a prefix of it (the whole word)
        whole = (edges[2 * number + 1], edges[2 * number + 2])
        assert found.spans([(stop, 0)], len(word) + 2, 1, len(word), False) == [whole]
        assert found.spans([(start, 0)], 2, 1, 1, True) == [whole]
        if number >= 2:
            first = layout[number - 2]
            assert found.start(stop, 0, 3, first[1] - first[0]) == first[0]
            # A phrase: the span of several words runs from the first's start to the last's end.
            assert found.span(first[0], stop) == (edges[2 * number - 3], edges[2 * number + 2])


@settings(max_examples=300, deadline=None)
@given(mixed)
def test_fast_words_agree_with_split_and_fold(text: str) -> None:
    _check(text)


@settings(max_examples=300, deadline=None)
@given(anything)
def test_fast_words_agree_on_any_text(text: str) -> None:
    _check(text)


def test_both_paths_in_one_field() -> None:
    # Cyrillic and Korean lines: the field cannot take one code page, each line its own path.
    _check("Зеленский сказал\n서울 발표 O’Brien's\nDüsseldorf, naïve — Straße")


def test_possessives_of_both_apostrophes_in_a_row() -> None:
    # Hypothesis found it: the code-page path judged the curly apostrophe after the straight
    # one had already dropped its "s", and kept the second "s" as a word.
    for text in ("Zelenskyy's’s ", "a's’s", "a’s's"):
        _check(text)
