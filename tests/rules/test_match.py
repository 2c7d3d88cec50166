"""RuleSet.match: each operator, fields, Unicode folding, min_hits, hits, regex guard."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from tests.rules.helpers import article
from watcher.rules import Rule, RuleSet, explain
from watcher.rules.positions import REGEX_BUDGET
from watcher.types import Article, Hit


def matches(query: str, item: Article, **rule: object) -> bool:
    rules = RuleSet([Rule("r", query, **rule)])  # type: ignore[arg-type]
    return bool(rules.match(item))


def hits(query: str, item: Article) -> list[tuple[str, str, str]]:
    """(field, text found, term) for each hit."""
    found = RuleSet([Rule("r", query)]).match(item)
    texts = {"title": item.title, "summary": item.description, "body": item.body,
             "url": item.url, "author": item.author}
    return [(h.field, texts[h.field][h.start:h.end], h.term) for h in found[0].hits] \
        if found else []


STORY = article(
    title="MI6 chief: the door is always open to Russian defectors",
    summary="Zelenskyy’s aides met in Düsseldorf.",
    body="The head of MI6 said the door is always\nopen. Defections rose.\n"
         "Officials in the US said us too. A well-known spy left.")


@pytest.mark.parametrize(("query", "expected"), [
    ("MI6", True),
    ("mi6", True),
    ("MI", False),  # whole words only
    ("chief", True),
    ("Zelenskyy", True),  # possessive
    ("Zelenskyy's", True),
    ("Dusseldorf", True),  # accents fold
    ("DUSSELDORF", True),
    ('"door is always open"', True),  # phrase across a line break
    ('"always open door"', False),
    ('"open defections"', True),  # across punctuation
    ("defect*", True),
    ("defecto*", True),
    ("spies*", False),
    ('"well known"', True),
    ("well-known", True),
    ("MI6 AND defect*", True),
    ("MI6 AND opera", False),
    ("MI6 opera", False),
    ("opera OR MI6", True),
    ("MI6 -opera", True),
    ("MI6 -spy", False),
    ("NOT opera", True),
    ("NOT MI6", False),
    ("(opera OR ballet) OR (MI6 AND spy)", True),
    ("=US", True),
    ("=Us", False),
    ("=MI6", True),
    ("=mi6", False),
    ('="Russian defectors"', True),
    ("=Defect*", True),
    ("=defect*", True),
    ("=DEFECT*", False),
])
def test_words_phrases_prefixes_and_boolean(query: str, expected: bool) -> None:
    assert matches(query, STORY) is expected


@pytest.mark.parametrize(("query", "expected"), [
    ("chief NEAR/3 door", True),  # chief the door: 1 word apart
    ("door NEAR/0 is", True),
    ("door NEAR/0 always", False),
    ("always NEAR/0 door", False),
    ("always NEAR/1 door", True),  # either order
    ("always ONEAR/1 door", False),  # in order
    ("door ONEAR/1 always", True),
    ("MI6 NEAR chief", True),
    ("MI6 NEAR spy", False),
    ("(spy OR chief) NEAR/1 MI6", True),
    ('"door is" NEAR/0 always', True),
    ("head NEAR/20 defectors", False),  # different fields never meet
    ("MI6 NEAR/2 said NEAR/3 door", True),
])
def test_near_and_onear(query: str, expected: bool) -> None:
    assert matches(query, STORY) is expected


@pytest.mark.parametrize(("query", "expected"), [
    ("title:chief", True),
    ("title:head", False),
    ("body:head", True),
    ("summary:aides", True),
    ("title:(chief AND defectors)", True),
    ("title:(chief AND head)", False),
    ('title:"door is always open"', True),
    ("url:bbc", True),
    ("url:world", True),
    ("author:smith", True),
    ("smith", False),  # the author is not searched by default
    ("site:bbc.co.uk", True),
    ("site:co.uk", True),
    ("site:www.bbc.co.uk", True),
    ("site:c.co.uk", False),
    ("site:*.uk", True),
    ("feed:bbc-*", True),
    ("feed:bbc", False),
    ("lang:en", True),
    ("lang:de", False),
    ("MI6 -site:bbc.co.uk", False),
])
def test_fields(query: str, expected: bool) -> None:
    item = article(title=STORY.title, summary=STORY.description, body=STORY.body,
                   author="Jane Smith", language="en-GB")
    assert matches(query, item) is expected


@pytest.mark.parametrize(("query", "text"), [
    ("Istanbul", "İstanbul"),
    ("istanbul", "ISTANBUL"),
    ("strasse", "Straße"),
    ("STRASSE", "straße"),
    ("cafe", "cafe\u0301 society"),  # combining accent
    ("café", "Cafe society"),
    ("final", "ﬁnal"),  # ligature
    ("Zelenskyy", "Zelenskyy’s plan"),
    ("O'Brien", "O’Brien said"),
    ("Brien", "O'Brien said"),
    ('"kyiv says"', "KYIV—says"),
])
def test_unicode_edge_cases(query: str, text: str) -> None:
    assert matches(query, article(body=text))


def test_min_hits_counts_each_positive_term() -> None:
    item = article(body="Wagner moved. Wagner left. Prigozhin spoke. The opera closed.")
    assert matches("Wagner", item, min_hits=2)
    assert not matches("Wagner", item, min_hits=3)
    assert not matches("Wagner AND Prigozhin", item, min_hits=2)
    assert matches("Wagner OR Prigozhin", item, min_hits=2)
    # a negated term excludes on a single mention, whatever min_hits says
    assert not matches("Wagner -opera", item, min_hits=2)


def test_hits_carry_field_spans_and_term_as_written() -> None:
    found = hits('MI6 AND (defect* OR "door is always open") -opera', STORY)
    assert ("title", "MI6", "MI6") in found
    assert ("title", "door is always open", '"door is always open"') in found
    assert ("body", "door is always\nopen", '"door is always open"') in found
    assert ("body", "Defections", "defect*") in found
    assert ("title", "defectors", "defect*") in found
    assert found == sorted(found, key=lambda h: ("title", "summary", "body").index(h[0]))


def test_every_hit_of_a_repeated_phrase_is_reported() -> None:
    # Back to back, the two phrases share the separator between them; and separators of
    # several characters (", ") lie inside a phrase, which the automaton skips.
    item = article(body="O'Brien O'Brien, door,  is open; door is")
    assert hits("=O'Brien", item) == [("body", "O'Brien", "=O'Brien")] * 2
    assert hits('"door is"', item) == [("body", "door,  is", '"door is"'),
                                       ("body", "door is", '"door is"')]
    assert hits("door NEAR/0 is", item) == [("body", "door", "door"), ("body", "is", "is")] * 2


def test_hits_of_near_are_the_close_pair_only() -> None:
    item = article(body="Putin far away words here and there. Putin met Wagner.")
    assert hits("Putin NEAR/1 Wagner", item) == [("body", "Putin", "Putin"),
                                                  ("body", "Wagner", "Wagner")]


def test_hits_spans_index_the_field_text() -> None:
    item = article(summary="Zelenskyy’s aides in DÜSSELDORF")
    [match] = RuleSet([Rule("r", "dusseldorf zelenskyy")]).match(item)
    assert match.hits == (Hit("summary", 0, 9, "zelenskyy"), Hit("summary", 21, 31, "dusseldorf"))


def test_a_hit_two_parts_of_a_rule_find_is_reported_once() -> None:
    # Hits are merged without deduplicating unless two reported terms are written the same
    item = article(title="Kremlin says", body="The Kremlin says Wagner left.")
    kremlin = [("title", "Kremlin", "Kremlin"), ("body", "Kremlin", "Kremlin")]
    assert hits("title:Kremlin OR Kremlin", item) == kremlin
    assert hits("Kremlin AND Kremlin NEAR/2 Wagner", item) == [
        *kremlin, ("body", "Wagner", "Wagner")]
    assert hits("says AND (Kremlin OR Wagner)", item) == [
        ("title", "Kremlin", "Kremlin"), ("title", "says", "says"),
        ("body", "Kremlin", "Kremlin"), ("body", "says", "says"), ("body", "Wagner", "Wagner")]


def test_rule_options_feeds_enabled_and_order() -> None:
    rules = RuleSet([
        Rule("b-only-guardian", "MI6", feeds=("guardian-*",)),
        Rule("a-bbc", "MI6", feeds=("bbc-*", "other")),
        Rule("off", "MI6", enabled=False),
        Rule("everything", "NOT opera"),
    ])
    assert [m.rule for m in rules.match(STORY)] == ["a-bbc", "everything"]
    assert rules.get("off") == Rule("off", "MI6", enabled=False)
    assert rules.get("missing") is None
    with pytest.raises(ValueError):
        RuleSet([Rule("x", "a"), Rule("x", "b")])


def test_feed_globs_follow_each_rule_past_disabled_ones_feed_by_feed() -> None:
    # Rules are numbered among the enabled ones; a disabled rule first shifts every number.
    rules = RuleSet([
        Rule("off", "MI6", enabled=False),
        Rule("guardian", "MI6", feeds=("guardian-*",)),
        Rule("everywhere", "MI6"),
        Rule("bbc", "MI6", feeds=("bbc-*",)),
    ])
    matched = {feed: [m.rule for m in rules.match(replace(STORY, feed=feed))]
               for feed in ("bbc-world", "guardian-uk", "reuters", "bbc-world")}
    assert matched == {"bbc-world": ["everywhere", "bbc"],
                       "guardian-uk": ["guardian", "everywhere"], "reuters": ["everywhere"]}


def test_regex_escape_hatch() -> None:
    item = article(body="Flight BA2490 and flight ba117 landed.")
    assert hits(r"/BA\d{3,4}/", item) == [("body", "BA2490", r"/BA\d{3,4}/"),
                                          ("body", "ba117", r"/BA\d{3,4}/")]
    assert hits(r"/(?-i)BA\d+/", item) == [("body", "BA2490", r"/(?-i)BA\d+/")]
    assert matches(r"title:/BA\d/ OR /landed/", item)
    assert not matches(r"flight -/landed/", item)


def test_catastrophic_regex_cannot_stall_matching(caplog: pytest.LogCaptureFixture) -> None:
    evil = r"/(\w+\s?)+$/"
    item = article(title="a " * 2000 + "!", summary="b " * 2000 + "!", body="c " * 5000 + "!")
    rules = RuleSet([Rule(f"evil{i}", evil if i % 2 else evil + " x") for i in range(10)])
    started = time.monotonic()
    assert rules.match(item) == ()
    assert time.monotonic() - started < REGEX_BUDGET + 0.5
    assert "timed out" in caplog.text


def test_near_on_a_page_repeating_both_sides_cannot_stall_matching(
        caplog: pytest.LogCaptureFixture) -> None:
    # 16,000 of each within reach: hundreds of millions of pairs for NEAR/1000. Before the
    # pair budget this took over two minutes; the rules still match, on the first pairs.
    item = article(body="spy agent " * 16000)
    rules = RuleSet([Rule("wide", "spy NEAR/1000 agent"), Rule("ordered", "agent ONEAR/900 spy"),
                     Rule("nested", "(spy NEAR/3 agent) NEAR/50 spy")])
    started = time.monotonic()
    assert [m.rule for m in rules.match(item)] == ["wide", "ordered", "nested"]
    assert time.monotonic() - started < 5
    assert caplog.text.count("NEAR pair budget spent") == 1


def test_a_long_line_off_the_code_pages_maps_its_many_hits_in_linear_time() -> None:
    # One 420,000-character Korean line with 60,000 hits: mapping each hit back to the text
    # counted words from the line's start, which took 16 s; the spans must still be exact.
    body = "스파이 요원, " * 60000
    started = time.monotonic()
    found = RuleSet([Rule("r", '"스파이 요원"')]).match(article(body=body))
    assert time.monotonic() - started < 5
    spans = found[0].hits
    assert len(spans) == 60000
    assert {body[h.start:h.end] for h in spans} == {"스파이 요원"}
    assert spans[-1].start == len(body) - len("스파이 요원, ")


def test_near_counts_words_right_far_into_a_long_text() -> None:
    # Word numbers are counted on from the previous occurrence: far into a long field, and
    # again from the start of the next field.
    filler = "word " * 3000
    item = article(title="spy one two three agent",
                   body=f"{filler}spy one two agent {filler}spy one two three four agent")
    assert hits("spy NEAR/2 agent", item) == [("body", "spy", "spy"), ("body", "agent", "agent")]
    assert matches("title:(spy NEAR/3 agent)", item)
    assert not matches("title:(spy NEAR/2 agent)", item)


def test_rules_without_terms_are_evaluated_for_every_article() -> None:
    rules = RuleSet([Rule("not", "NOT opera"), Rule("site", "site:bbc.co.uk"),
                     Rule("re", r"/\bspy\b/"), Rule("term", "opera")])
    assert [m.rule for m in rules.match(STORY)] == ["not", "site", "re"]
    assert [m.rule for m in rules.match(article(body="opera"))] == ["site", "term"]


def test_metadata_answers_are_per_feed_site_and_language_across_articles() -> None:
    # One rule set sees articles from several feeds in turn: what it remembers per feed,
    # site and language must never leak from one article to the next.
    rules = RuleSet([Rule("bbc", "site:bbc.co.uk spy"), Rule("guardian", "feed:guardian-* spy"),
                     Rule("german", "lang:de spy"), Rule("not-bbc", "spy -site:bbc.co.uk"),
                     Rule("any", "spy")])
    cases = [
        (article(body="a spy", feed="bbc-world", site="bbc.co.uk"), ["bbc", "any"]),
        (article(body="a spy", feed="guardian-world", site="theguardian.com"),
         ["guardian", "not-bbc", "any"]),
        (article(body="ein spy", feed="dw", site="dw.com", language="de-DE"),
         ["german", "not-bbc", "any"]),
        (article(body="a spy", feed="bbc-world", site="news.bbc.co.uk", language="de"),
         ["bbc", "german", "any"]),
        (article(body="no one", feed="bbc-world", site="bbc.co.uk"), []),
    ]
    for _ in range(2):  # the second round answers from what the first remembered
        for item, expected in cases:
            assert [m.rule for m in rules.match(item)] == expected, item


def test_explain_names_what_matched_where() -> None:
    tree = explain('MI6 AND (defect* OR "door is always open") -spy chief NEAR/1 open', STORY)
    assert not tree.matched
    lines = tree.lines(STORY)
    assert lines[0] == "- AND"
    assert "  + MI6: title 'MI6', body 'MI6'" in lines
    assert "    + defect*: title 'defectors', body 'Defections'" in lines
    assert "  - NOT" in lines
    assert "    + spy: body 'spy'" in lines
    near = next(line for line in lines if "NEAR/1" in line)
    assert near == "  - NEAR/1 (chief NEAR/1 open): both found, never close enough"


def test_explain_a_rule_with_min_hits() -> None:
    tree = explain(Rule("r", "MI6 OR Putin", min_hits=3), STORY)
    assert not tree.matched
    assert tree.children[0].note == "found 2 time(s), min_hits is 3"
