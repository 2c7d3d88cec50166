from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from watcher.digest.snippet import best_snippet, hit_sentence, sentence_bounds


def test_sentence_containing_the_hit() -> None:
    text = "First one. The spy “defected” today! Last line here?\nNext para."
    at = text.index("spy")
    snippet = hit_sentence(text, [(at, at + 3)])
    assert snippet.text == "The spy “defected” today!"
    assert [snippet.text[a:b] for a, b in snippet.marks] == ["spy"]


def test_paragraph_break_ends_a_sentence() -> None:
    text = "No full stop here\nSecond paragraph with MI6 in it"
    start, end = sentence_bounds(text, text.index("MI6"))
    assert text[start:end] == "Second paragraph with MI6 in it"


def test_run_on_sentence_is_cut_around_the_hit() -> None:
    text = ("word " * 200) + "TARGET " + ("word " * 200)
    at = text.index("TARGET")
    snippet = hit_sentence(text, [(at, at + 6)], limit=120)
    assert len(snippet.text) <= 130 and snippet.text.startswith("… ")
    assert [snippet.text[a:b] for a, b in snippet.marks] == ["TARGET"]


def test_title_only_hit_and_stale_offsets() -> None:
    fields = {"title": "MI6 boss speaks", "body": "Short body.", "description": "Desc."}
    snippet = best_snippet(fields, [("title", 0, 3, "MI6"), ("body", 500, 510, "x")])
    assert snippet.text == "MI6 boss speaks" and snippet.marks == ((0, 3),)
    assert best_snippet(fields, []).text == "Desc."


@given(st.text(max_size=300), st.data())
def test_marks_always_point_at_the_hit_text(text: str, data: st.DataObject) -> None:
    if not text:
        return
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    snippet = hit_sentence(text, [(start, end)], limit=80)
    for a, b in snippet.marks:
        assert 0 <= a < b <= len(snippet.text)
        assert snippet.text[a:b] in text[start:end]
