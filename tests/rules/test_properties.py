"""The fast matcher agrees with the slow reference evaluator (tests/rules/reference.py) on
generated queries and texts, Unicode edge cases included."""

from __future__ import annotations

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.rules.helpers import article, compiles
from tests.rules.reference import fold, reference_match, tokenize
from watcher.rules import Rule, RuleSet
from watcher.rules.text import fold_words, split, words
from watcher.types import Article

# Words and their troublesome spellings: accents precomposed and combining, İ and ß,
# ligatures, possessives with straight and curly apostrophes, hyphens, acronyms.
TEXT_WORDS = [
    "Düsseldorf", "Dusseldorf", "DÜSSELDORF", "Du\u0308sseldorf", "İstanbul", "istanbul",
    "ISTANBUL", "Straße", "STRASSE", "strasse", "Zelenskyy", "Zelenskyy's", "Zelenskyy’s",
    "well-known", "well", "known", "US", "us", "Us", "MI6", "mi6", "defect", "defector",
    "defected", "Defections", "door", "is", "always", "open", "ﬁnal", "final", "café",
    "cafe\u0301", "O'Brien", "s", "S", "workers'", "naïve", "ΣΊΣΥΦΟΣ", "σίσυφος", "ǅemal",
    "x\u0301\u0302y", "Kyiv", "kyiv", "_under_score", "2024", "½", "Ⅻ",
]
SEPARATORS = [" ", " ", " ", ", ", ". ", "\n", " — ", "-", "'", "’", "_", "  ", " (", ") ",
              "\u00a0", "\u0301"]
QUERY_WORDS = [w for w in TEXT_WORDS if w not in ("s", "S", "_under_score")] + [
    "defe*", "defect*", "Düss*", "ista*", "stra*", "zelenskyy*", "Kyi*"]

texts = st.lists(st.tuples(st.sampled_from(TEXT_WORDS), st.sampled_from(SEPARATORS)),
                 max_size=14).map(lambda pairs: "".join(w + s for w, s in pairs))


def _word(draw: st.DrawFn) -> str:
    word = draw(st.sampled_from(QUERY_WORDS))
    kind = draw(st.sampled_from(["plain", "plain", "plain", "case", "phrase"]))
    if kind == "case":
        return "=" + word
    if kind == "phrase":
        more = draw(st.lists(st.sampled_from(TEXT_WORDS[:-4]), min_size=1, max_size=2))
        return '"' + " ".join([word.rstrip("*"), *more]) + '"'
    return word


@st.composite
def positional(draw: st.DrawFn, depth: int = 0) -> str:
    choice = draw(st.integers(0, 5 if depth < 2 else 2))
    if choice <= 2:
        return _word(draw)
    if choice == 3:
        return f"({_word(draw)} OR {_word(draw)})"
    operator = draw(st.sampled_from(["NEAR", "NEAR/0", "NEAR/1", "NEAR/3", "ONEAR/1",
                                     "ONEAR/2"]))
    return f"{draw(positional(depth + 1))} {operator} {draw(positional(depth + 1))}"


@st.composite
def queries(draw: st.DrawFn, depth: int = 0) -> str:
    choice = draw(st.integers(0, 9 if depth < 3 else 3))
    if choice <= 2:
        return draw(positional())
    if choice == 3:
        field = draw(st.sampled_from(["title", "body", "summary", "url", "author"]))
        return f"{field}:{_word(draw)}"
    if choice == 4:
        return draw(st.sampled_from(["site:example.org", "feed:news-*", "lang:de",
                                     "/[dD]\u00fc?ss/", r"/\bUS\b/"]))
    if choice == 5:
        return f"NOT {draw(queries(depth + 1))}"
    if choice == 6:
        return f"-{draw(positional())}"
    if choice == 7:
        field = draw(st.sampled_from(["title", "body"]))
        return f"{field}:({draw(queries(depth + 1))})"
    operator = draw(st.sampled_from([" AND ", " OR ", " "]))
    return f"({draw(queries(depth + 1))}{operator}{draw(queries(depth + 1))})"


@st.composite
def articles(draw: st.DrawFn) -> Article:
    return article(title=draw(texts), summary=draw(texts), body=draw(texts),
                   author=draw(st.sampled_from(["", "Jane Straße"])),
                   url=draw(st.sampled_from(["https://example.org/düsseldorf-2024",
                                             "https://news.example.org/us/mi6"])),
                   feed=draw(st.sampled_from(["news-1", "other"])),
                   site=draw(st.sampled_from(["example.org", "news.example.org", "b.com"])),
                   language=draw(st.sampled_from(["en", "de-AT", None])))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(queries(), min_size=1, max_size=6), articles(), st.integers(1, 2))
def test_fast_matcher_agrees_with_reference(queries_: list[str], item: Article,
                                            min_hits: int) -> None:
    valid = [q for q in queries_ if compiles(q)]
    assume(valid)
    rules = [Rule(f"r{i}", q, min_hits=min_hits if i % 2 else 1) for i, q in enumerate(valid)]
    found = {m.rule: m for m in RuleSet(rules).match(item)}
    for rule in rules:
        expected = reference_match(rule.query, item, rule.min_hits)
        if expected is None:
            assert rule.name not in found, rule.query
        else:
            assert rule.name in found, rule.query
            assert set(found[rule.name].hits) == expected, rule.query
            assert len(found[rule.name].hits) == len(expected), "duplicate hits"


@settings(max_examples=200, deadline=None)
@given(texts)
def test_tokeniser_agrees_with_reference(text: str) -> None:
    reference = tokenize(text)
    assert words(text) == [w.written for w in reference]
    assert fold_words(words(text)) == [w.folded for w in reference]
    parts = split(text)
    assert "".join(parts) == text


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_tokeniser_on_any_text(text: str) -> None:
    reference = tokenize(text)
    assert words(text) == [w.written for w in reference]
    assert fold_words(words(text)) == [fold(w.written) for w in reference]
