"""Cleaning the blocks trafilatura kept: each step is a small pure function over blocks.

Which steps run, and why those, is measured by bench/bench_extract.py and written up in
docs/extraction.md; a step stays only when it wins on the benchmark *and* states a rule
that holds for news pages in general (a held-out set judges us, not the development set).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from watcher.extract.body import Block

_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def _overlap(a: Sequence[str], b: Sequence[str]) -> float:
    """Shared words over the longer of the two: 1.0 only when they say the same thing."""
    if not a or not b:
        return 0.0
    shared = sum((Counter(a) & Counter(b)).values())
    return shared / max(len(a), len(b))


def echoes(text: str, reference: str, threshold: float = 0.8) -> bool:
    """True when ``text`` repeats ``reference`` (same words, give or take a few)."""
    return _overlap(words(text), words(reference)) >= threshold


def is_truncation_of(short: str, long: str) -> bool:
    """``short`` is ``long`` cut off (a description made of the lead's first words)."""
    a, b = words(short), words(long)
    return len(b) > len(a) >= 5 and b[: len(a) - 1] == a[: len(a) - 1]


def drop_title_echo(blocks: list[Block], title: str, description: str,
                    lookahead: int = 3) -> tuple[list[Block], str]:
    """Keep the headline and standfirst out of the top of the body; returns the blocks and
    the description to store.

    They are stored on lines 1 and 2; a copy at the top of the body would be read (and
    matched) twice. A copy of the title, or of the description set as a heading, is dropped
    from the body. A description that is the body's first *paragraph* (or that paragraph cut
    short) is the article's lead reused as a teaser: the lead stays in the body, where it
    belongs, and the description is emptied instead. Only the first few blocks are looked
    at: the same words further down are the article quoting itself.
    """
    kept: list[Block] = []
    for index, block in enumerate(blocks):
        if index < lookahead and not kept:
            if title and echoes(block.text, title):
                continue
            if description and (echoes(block.text, description)
                                or is_truncation_of(description, block.text)):
                if block.kind == "head":
                    continue
                description = ""
        kept.append(block)
    return kept, description


def clean_blocks(blocks: list[Block], title: str, description: str
                 ) -> tuple[tuple[str, ...], str]:
    """The cleaning steps kept (see docs/extraction.md): paragraphs and the description."""
    blocks, description = drop_title_echo(blocks, title, description)
    return tuple(b.text for b in blocks), description
