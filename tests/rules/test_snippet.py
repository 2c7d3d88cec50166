"""snippet / best_snippet: the hit sentence, trimmed, with spans to highlight."""

from __future__ import annotations

from tests.rules.helpers import article
from watcher.rules import Rule, RuleSet, best_snippet, snippet
from watcher.rules.snippet import Snippet, sentence_bounds
from watcher.types import Hit

BODY = ("Mr. Smith went to Washington. He met U.S. officials on Monday.\n"
        "The MI6 chief said the door is always open. Defectors are welcome, he said!\n"
        "Nothing else happened.")


def test_sentences_skip_abbreviations_and_initials() -> None:
    starts = sentence_bounds(BODY)
    sentences = [BODY[a:b].strip() for a, b in zip(starts, [*starts[1:], len(BODY)],
                                                     strict=True)]
    assert sentences == ["Mr. Smith went to Washington.", "He met U.S. officials on Monday.",
                         "The MI6 chief said the door is always open.",
                         "Defectors are welcome, he said!", "Nothing else happened."]


def test_the_sentence_with_most_distinct_terms_wins() -> None:
    item = article(body=BODY)
    [match] = RuleSet([Rule("r", "(MI6 OR defector*) AND door")]).match(item)
    found = best_snippet(item, match.hits)
    assert found == Snippet("body", "The MI6 chief said the door is always open.",
                            ((4, 7), (23, 27)))
    assert found.highlight("[", "]") == "The [MI6] chief said the [door] is always open."
    assert found.parts()[:2] == [("The ", False), ("MI6", True)]


def test_long_sentences_are_cut_around_the_hit_at_word_boundaries() -> None:
    text = " ".join(f"word{i}" for i in range(100)) + " MI6 " + " ".join(
        f"tail{i}" for i in range(100)) + "."
    start = text.index("MI6")
    found = snippet(text, [Hit("body", start, start + 3, "MI6")], max_chars=80)
    assert found.text.startswith("…word") and found.text.endswith("…")
    assert len(found.text) <= 82
    [(a, b)] = found.spans
    assert found.text[a:b] == "MI6"


def test_spans_as_tuples_and_no_hits() -> None:
    assert snippet("Alpha beta. Gamma delta.", [(12, 17)]) == Snippet("", "Gamma delta.",
                                                                      ((0, 5),))
    assert snippet("Alpha beta.", []) == Snippet("", "Alpha beta.", ())


def test_best_snippet_prefers_body_then_summary_then_title() -> None:
    item = article(title="MI6 news", summary="About MI6.", body="Nothing here.")
    title_hit, summary_hit = Hit("title", 0, 3, "MI6"), Hit("summary", 6, 9, "MI6")
    assert best_snippet(item, [title_hit, summary_hit]) == Snippet("summary", "About MI6.",
                                                                   ((6, 9),))
    assert best_snippet(item, [title_hit]) == Snippet("title", "MI6 news", ((0, 3),))
    assert best_snippet(item, [Hit("url", 0, 3, "x")]) is None


def test_a_sentence_glued_to_the_previous_one_is_still_its_own() -> None:
    # Seed 004: extraction joined two blocks without a space.
    text = ("Your support makes all the difference.The head of MI6 has urged Russians. "
            "Rated 3.5 in the U.S.Army list")
    start = text.index("MI6")
    found = snippet(text, [(start, start + 3)])
    assert found.text == "The head of MI6 has urged Russians."
    assert sentence_bounds(text)[-1] == text.index("Rated")


def test_hits_that_no_longer_fit_their_field_are_skipped() -> None:
    stale = [Hit("body", 5000, 5003, "MI6"), Hit("title", 0, 3, "MI6")]
    chosen = best_snippet(article(title="MI6 news", body="short"), stale)
    assert chosen is not None and chosen.field == "title"
