"""The article body: trafilatura finds it, we turn its XML into paragraphs.

We ask trafilatura for its XML tree rather than its text so that we keep the structure it
found (headings, list items, table rows, which words were links) and can clean on it:
``cleanup.py`` uses link density and block kinds, which plain text has lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import trafilatura
from lxml import etree
from lxml.html import HtmlElement

from watcher.extract.text import clean_text

BlockKind = Literal["p", "head", "item", "row", "quote", "code"]

_KINDS: dict[str, BlockKind] = {"p": "p", "head": "head", "item": "item", "quote": "quote",
                                "code": "code", "div": "p", "row": "row"}
_SKIP = frozenset({"graphic", "fn", "note"})


@dataclass(frozen=True)
class Block:
    """One paragraph-like unit of the body, with what cleaning needs to judge it."""

    kind: BlockKind
    text: str
    link_chars: int  # characters of text that sat inside links
    group: int  # items of one list / rows of one table share a group; others have their own
    # the targets of those links as the page wrote them: cleanup asks only which site they
    # lead to, and a relative link leads home whether resolved or not
    links: tuple[str, ...] = ()

    @property
    def link_density(self) -> float:
        return self.link_chars / len(self.text) if self.text else 0.0


@dataclass(frozen=True)
class TrafilaturaOptions:
    """The trafilatura levers measured by bench/bench_extract.py (see docs/extraction.md)."""

    favor_precision: bool = False
    favor_recall: bool = False
    fast: bool = False  # skips the readability/jusText comparison and rescue
    include_tables: bool = True


def run_trafilatura(tree: HtmlElement, options: TrafilaturaOptions) -> etree._Element | None:
    """trafilatura's body element (XML vocabulary: p, head, list/item, table/row/cell, ...).

    trafilatura copies the tree before cleaning it, so the caller's tree is left intact.
    It is not given the page's URL: its only use of it here would be resolving every link
    of the page against it (a large share of its time), and ``Block.links`` needs no
    resolving.
    """
    # "xml": the body as "python" gives it, without the plain text "python" also renders
    # from it, which nothing here reads.
    document = trafilatura.bare_extraction(
        tree, url=None, output_format="xml", include_comments=False, include_links=True,
        include_images=False, include_tables=options.include_tables,
        favor_precision=options.favor_precision, favor_recall=options.favor_recall,
        fast=options.fast, with_metadata=False,
    )
    if document is None or isinstance(document, dict):
        return None
    body: etree._Element | None = document.body
    return body


def from_fallback(body: etree._Element | None) -> bool:
    """Whether trafilatura's answer is its readability fallback's rather than its own.

    trafilatura builds its own extraction (and jusText's and the baseline's) in a fresh
    ``<body>``; when its comparison prefers readability it returns readability's ``<div>``
    instead. Only then can a pass without the comparison (``fast``) hold blocks the answer
    lacks; tests/extract/test_body_cleanup.py pins this on a corpus page.
    """
    return body is not None and body.tag != "body"


class _Renderer:
    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self._parts: list[str] = []
        self._link_chars = 0
        self._links: list[str] = []
        self._kind: BlockKind = "p"
        self._group = 0
        self._groups = 0

    def _new_group(self) -> int:
        self._groups += 1
        return self._groups

    def _add(self, text: str | None, in_link: bool) -> None:
        if text:
            self._parts.append(text)
            if in_link:
                self._link_chars += len(clean_text(text))

    def _flush(self) -> None:
        text = clean_text("".join(self._parts))
        if text:
            self.blocks.append(Block(self._kind, text, min(self._link_chars, len(text)),
                                     self._group, tuple(self._links)))
        self._parts, self._link_chars, self._links = [], 0, []

    def block(self, element: etree._Element, kind: BlockKind, group: int) -> None:
        self._flush()
        outer = self._kind, self._group
        self._kind, self._group = kind, group
        self._content(element, in_link=False)
        self._flush()
        self._kind, self._group = outer

    def _table(self, table: etree._Element) -> None:
        self._flush()
        group = self._new_group()
        previous = ""
        for row in table.iter("row"):
            cells = [lines for lines in map(_cell_lines, row) if lines]
            # A layout table's one cell holding the story: each line break (<br>) in it
            # ends a paragraph, as it does outside tables. In a row of several cells, a
            # break inside a cell is only a space.
            if len(cells) == 1:
                lines = cells[0]
            else:
                lines = [(" ".join(text for cell in cells for text, _ in cell),
                          sum(links for cell in cells for _, links in cell))]
            text = "\n".join(line for line, _ in lines)
            # trafilatura repeats a <thead> row in some layouts; a row twice in a row is
            # never meant to be read twice.
            if not text or text == previous:
                continue
            previous = text
            targets = tuple(r.get("target", "") for r in row.iter("ref"))
            for line, links in lines:
                self.blocks.append(Block("row", line, links, group, targets))

    def _content(self, element: etree._Element, in_link: bool) -> None:
        self._add(element.text, in_link)
        for child in element:
            tag = child.tag if isinstance(child.tag, str) else ""
            if tag == "list":
                self._flush()
                group = self._new_group()
                for item in child:
                    self.block(item, "item", group)
                    self._add(item.tail, in_link)
            elif tag == "table":
                self._table(child)
            elif tag in _KINDS:
                self.block(child, _KINDS[tag], self._new_group())
            elif tag == "lb":
                self._flush()
            elif tag not in _SKIP:
                if tag == "ref":
                    self._links.append(child.get("target", ""))
                self._content(child, in_link or tag == "ref")
            self._add(child.tail, in_link)


def _cell_lines(cell: etree._Element) -> list[tuple[str, int]]:
    """A table cell's lines, split where the page had a line break (trafilatura keeps it as
    ``lb``, or makes the text after it a ``p``): each line's text and how many of its
    characters sat inside links."""
    lines: list[tuple[list[str], list[int]]] = [([], [0])]

    def add(text: str | None, in_link: bool) -> None:
        if text:
            lines[-1][0].append(text)
            if in_link:
                lines[-1][1][0] += len(clean_text(text))

    def walk(node: etree._Element, in_link: bool) -> None:
        add(node.text, in_link)
        for child in node:
            if child.tag == "lb":
                lines.append(([], [0]))
            elif child.tag in _KINDS or child.tag == "list":
                # trafilatura turns the text after a <br> in a cell into a <p> of its own
                lines.append(([], [0]))
                walk(child, in_link)
                lines.append(([], [0]))
            else:
                walk(child, in_link or child.tag == "ref")
            add(child.tail, in_link)

    walk(cell, False)
    out = []
    for parts, (link_chars,) in lines:
        text = clean_text("".join(parts))
        if text:
            out.append((text, min(link_chars, len(text))))
    return out


def render_blocks(body: etree._Element) -> list[Block]:
    """trafilatura's XML body as a flat list of blocks, in document order."""
    renderer = _Renderer()
    renderer.block(body, "p", 0)
    return renderer.blocks
