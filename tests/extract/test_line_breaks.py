"""A paragraph run together with the next where the page had a line break (issue 15 item 7:
"November 19.At least 106"): trafilatura keeps a <br> in a paragraph as ``lb``, but in a
table cell (old layout tables that hold the whole story) it makes the text after the break a
``p`` inside the cell, which a cell's text alone glued to what came before."""

from __future__ import annotations

from lxml import etree

from watcher.extract import extract_page
from watcher.extract.body import render_blocks

FILLER = ("Protests continued across the country as petrol prices rose and the government cut "
          "internet access in several provinces, witnesses told reporters by telephone.")


def page(body: str) -> bytes:
    return (f"<html><head><title>Iran protests</title></head><body><article>"
            f"<h1>Iran protests</h1>{body}</article></body></html>").encode()


def paragraphs(body: str) -> list[str]:
    return list(extract_page(page(body), "https://example.com/2019/11/19/iran").paragraphs)


def test_a_break_in_a_layout_table_cell_splits_the_paragraph() -> None:
    found = paragraphs(f"<p>{FILLER}</p><table><tr><td>Tehran, November 19.<br>At least 106 "
                       f"people were killed, Amnesty said. {FILLER}</td></tr></table>")
    assert "Tehran, November 19." in found
    assert any(p.startswith("At least 106 people") for p in found)
    assert not any("19.At" in p for p in found)


def test_a_break_in_a_paragraph_still_splits_it() -> None:
    found = paragraphs(f"<p>{FILLER}</p><p>Tehran, November 19.<br/>At least 106 people were "
                       f"killed, Amnesty said. {FILLER}</p>")
    assert "Tehran, November 19." in found
    assert any(p.startswith("At least 106 people") for p in found)


def test_a_break_inside_one_cell_of_a_data_row_is_a_space() -> None:
    table = etree.fromstring("<body><table><row><cell>Tehran<lb/>Nov 19</cell>"
                             "<cell><ref target='/x'>106</ref> dead</cell></row></table></body>")
    (row,) = render_blocks(table)
    assert row.text == "Tehran Nov 19 106 dead"
    assert row.link_chars == len("106") and row.links == ("/x",)


def test_lines_of_one_cell_keep_their_own_link_share() -> None:
    table = etree.fromstring("<body><table><row><cell><ref target='/home'>Home</ref><lb/>"
                             "The story goes on here.<p>And here.</p></cell></row></table>"
                             "</body>")
    blocks = render_blocks(table)
    assert [(b.text, b.link_chars) for b in blocks] == [
        ("Home", 4), ("The story goes on here.", 0), ("And here.", 0)]
    assert len({b.group for b in blocks}) == 1
