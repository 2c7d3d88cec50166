"""``text.Words`` (the code-page fast path, line by line where it cannot) cuts and folds
exactly as the slow general path does: ``fold_words(words(text))``, with the same offsets."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.rules.text import Words, bounds, fold_words, split

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
anything = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)),
                   max_size=60)


def _check(text: str) -> None:
    parts = split(text)
    folded = fold_words(parts[1::2])
    edges = bounds(parts)
    found = Words(text)
    assert found.joined == " " + " ".join(folded) + " "
    position = 1
    for number, word in enumerate(folded):
        assert found.index(position) == number
        assert found.span(position, position + len(word)) == (edges[2 * number + 1],
                                                              edges[2 * number + 2])
        position += len(word) + 1
    # A phrase: the span of several words runs from the first's start to the last's end.
    if len(folded) >= 3:
        stop = 1 + len(" ".join(folded[:3]))
        assert found.span(1, stop) == (edges[1], edges[6])


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
