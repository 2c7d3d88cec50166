"""The digest's use of ``watcher.rules.snippet``: which text a candidate's item shows.

The sentence choice and trimming are the rules' (tests/rules/test_snippet.py); here only
what the digest adds: candidates instead of articles, stale offsets, the fallback, and
feed control characters.
"""

from __future__ import annotations

from tests.digest.fixtures import candidate
from watcher.digest.build import item_snippet
from watcher.rules.snippet import Snippet


def marked(found: Snippet) -> list[str]:
    return [found.text[a:b] for a, b in found.spans]


def test_body_sentence_with_the_hits() -> None:
    found = item_snippet(candidate(1, "Title", "First one. The MI6 chief spoke today!\nNext.",
                                   terms=("MI6",)))
    assert (found.field, found.text, marked(found)) == (
        "body", "The MI6 chief spoke today!", ["MI6"])


def test_stale_body_offsets_fall_back_to_the_title_hit() -> None:
    c = candidate(1, "MI6 boss speaks", "Short body.", terms=("MI6",))
    c = c.__class__(**{**c.__dict__, "hits": (("body", 500, 510, "x"), ("title", 0, 3, "MI6"))})
    found = item_snippet(c)
    assert (found.field, found.text, marked(found)) == ("title", "MI6 boss speaks", ["MI6"])


def test_no_text_hit_shows_the_standfirst_unmarked() -> None:
    c = candidate(1, "Title", "Body line one.\nBody line two.", terms=(),
                  description="The standfirst.\nSecond line.")
    assert item_snippet(c) == Snippet("summary", "The standfirst.", ())
    c = candidate(1, "Title", "Body line one.\nBody line two.", terms=())
    assert item_snippet(c) == Snippet("body", "Body line one.", ())


def test_control_characters_never_reach_the_sentence() -> None:
    body = "The MI6\x1b[31m chief\tsaid it\r\nBcc: x@example.org."
    found = item_snippet(candidate(1, "T", body, terms=("MI6",)))
    assert found.text == "The MI6 [31m chief said it" and marked(found) == ["MI6"]
