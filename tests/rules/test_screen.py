"""The screen the tester puts before matching (watcher/rules/screen.py) never turns away an
article the rules match, on generated queries and texts (Unicode edge cases, texts that
take a code page and texts that do not); and it does turn away the articles that lack the
words a rule needs."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.rules.helpers import article, compiles
from tests.rules.test_properties import SEPARATORS, TEXT_WORDS, articles, queries
from watcher.rules import Rule, RuleSet
from watcher.rules.scan import field_texts
from watcher.rules.screen import Screen
from watcher.rules.text import folded_letters
from watcher.types import Article

# Texts a code page folds (the screen's own path): the troublesome words and separators
# that do not send a text to the general path.
PAGE_WORDS = [w for w in TEXT_WORDS if folded_letters(w) is not None]
PAGE_SEPARATORS = [s for s in SEPARATORS if folded_letters(s) is not None]
page_texts = st.lists(st.tuples(st.sampled_from(PAGE_WORDS), st.sampled_from(PAGE_SEPARATORS)),
                      max_size=14).map(lambda pairs: "".join(w + s for w, s in pairs))


@st.composite
def page_articles(draw: st.DrawFn) -> Article:
    return article(title=draw(page_texts), summary=draw(page_texts), body=draw(page_texts),
                   author=draw(st.sampled_from(["", "Jane Doe"])),
                   url=draw(st.sampled_from(["https://example.org/dusseldorf-2024",
                                             "https://news.example.org/us/mi6"])))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(queries(), min_size=1, max_size=3), st.one_of(articles(), page_articles()))
def test_the_screen_lets_through_every_article_the_rules_match(queries_: list[str],
                                                               item: Article) -> None:
    valid = [q for q in queries_ if compiles(q)]
    assume(valid)
    rules = RuleSet([Rule(f"r{i}", q) for i, q in enumerate(valid)])
    if rules.match(item):
        assert Screen(rules).may_match(field_texts(item)), valid


def texts(title: str, body: str = "") -> tuple[str, ...]:
    return field_texts(article(title=title, body=body))


@pytest.mark.parametrize(("query", "title", "body", "passes"), [
    ("Minsk AND talks", "Minsk summit opens", "Leaders met.", False),  # AND: both words
    ("Minsk AND talks", "Minsk summit opens", "Talks went on.", True),
    ('"door is always open"', "The door is open", "", False),  # a phrase: all its words
    ("Minsk NEAR/3 talks OR Wagner", "Wagner’s convoy", "", True),  # a possessive
    ("defect*", "Defectors", "", True),  # a prefix
    ("Düsseldorf", "DUSSELDORF", "", True),  # folded alike
    ("Dusseldorf", "Düsseldorf", "", True),
    ("Путин", "Путин прибыл", "", True),  # Cyrillic takes the other code page
    ("Путин", "Putin arrived", "", False),
    ("straße", "Strasse", "", True),
    ("strasse", "Straße", "", True),  # ß takes the general path: let through
    ("NOT Minsk", "Rain expected", "", True),  # true without any word: all through
    ("/Mins?k/", "Rain expected", "", True),
])
def test_the_screen_turns_away_only_what_cannot_match(query: str, title: str, body: str,
                                                      passes: bool) -> None:
    rules = RuleSet([Rule("q", query)])
    assert Screen(rules).may_match(texts(title, body)) is passes
    if not passes:
        assert not rules.match(article(title=title, body=body))
