"""Cleaning the blocks trafilatura kept: each step is a small pure function over blocks.

Which steps run, and why those, is measured by bench/bench_extract.py and written up in
docs/extraction.md; a step stays only when it wins on the benchmark *and* states a rule
that holds for news pages in general (a held-out set judges us, not the development set).
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:  # trafilatura's import is heavy; the daemon reads only site_key here
    from watcher.extract.body import Block


_WORD = re.compile(r"\w+")
# Whether the description is shown as a standfirst; a callable is asked only when needed.
StandfirstTest = bool | Callable[[], bool]


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
                    standfirst_marked: StandfirstTest = False,
                    lookahead: int = 3) -> tuple[list[Block], str]:
    """Keep the headline and standfirst out of the top of the body; returns the blocks and
    the description to store.

    They are stored on lines 1 and 2; a copy at the top of the body would be read (and
    matched) twice. A copy of the title, or of the description set as a heading, is dropped
    from the body, and so is a copy of it set apart as a standfirst (``standfirst_marked``:
    the page shows it in an element whose class says standfirst/dek/summary...; a callable
    is asked only when a copy is found, since looking costs a walk over the page). A
    description that is the body's plain first *paragraph* (or that paragraph cut short) is
    the article's lead reused as a teaser: the lead stays in the body, where it belongs, and
    the description is emptied instead. Only the first few blocks are looked at: the same
    words further down are the article quoting itself.
    """
    kept: list[Block] = []
    for index, block in enumerate(blocks):
        if index < lookahead and not kept:
            if title and echoes(block.text, title):
                continue
            if description and (echoes(block.text, description)
                                or is_truncation_of(description, block.text)):
                if block.kind == "head" or (standfirst_marked() if callable(standfirst_marked)
                                            else standfirst_marked):
                    continue
                description = ""
        kept.append(block)
    return kept, description


def fill_interior_gaps(main: list[Block], wider: list[Block]) -> list[Block]:
    """Add the blocks a wider extraction found *between* two consecutive blocks of the main
    one (embedded tweets, tables, quotes that the main pass judged too different).

    Boilerplate sits around an article (before its first paragraph, after its last), rarely
    between two paragraphs the main pass kept next to each other; so only interior gaps are
    filled, never the head or the tail.
    """
    anchors: list[tuple[int, int]] = []
    start = 0
    for main_index, block in enumerate(main):
        for wide_index in range(start, len(wider)):
            if wider[wide_index].text == block.text:
                anchors.append((main_index, wide_index))
                start = wide_index + 1
                break
    merged = list(main)
    pairs = list(itertools.pairwise(anchors))
    for (m1, w1), (m2, w2) in reversed(pairs):
        if m2 == m1 + 1 and w2 > w1 + 1:
            merged[m2:m2] = wider[w1 + 1:w2]
    return merged


# Second-level labels under which registries sell names (bbc.co.uk, abc.net.au): there the
# site is the last three labels. A rough public-suffix rule that needs no list to download.
_GENERIC_SLD = frozenset({"co", "com", "net", "org", "gov", "ac", "edu", "ne", "or", "go"})


def site_key(url: str) -> str:
    """The registered domain of ``url`` (``news.bbc.co.uk`` -> ``bbc.co.uk``); "" without a
    host (a relative link, ``mailto:``)."""
    try:
        host = (urlsplit(url.strip()).hostname or "").rstrip(".")
    except ValueError:
        return ""
    labels = host.split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _GENERIC_SLD:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _links_home(block: Block, own_sites: frozenset[str]) -> bool:
    """Every link of ``block`` leads within the publisher's own site (or has no host: a
    relative link, an in-page anchor, a ``mailto:``)."""
    for target in block.links:
        site = site_key(target)
        if site and site not in own_sites:
            return False
    return True


def drop_link_blocks(blocks: list[Block], own_sites: frozenset[str] = frozenset(),
                     density: float = 0.8, max_words: int = 20,
                     page_share: float = 0.3) -> list[Block]:
    """Drop short paragraphs that are (nearly) all link *to the publisher's own site*:
    "Read more: ...", "SEE MORE: ...", related-story teasers, "Also on site.com ...".

    Navigation to more of the site is what these blocks are for, so their links lead home.
    A link-only paragraph pointing elsewhere is the story's own matter: a source, a
    document, a product in a buying guide, a "full results" link (``own_sites``: the site
    keys of the page's URL and canonical URL; empty means every link counts as home).
    Left alone too: table rows (a column of names may all be links), long paragraphs (prose
    that happens to be linked), and pages where such blocks are common (link round-ups,
    deal lists), where they are the content.
    """
    candidates = {id(b) for b in blocks
                  if b.kind != "row" and b.link_density >= density
                  and len(b.text.split()) <= max_words
                  and (not own_sites or _links_home(b, own_sites))}
    if not candidates or len(candidates) > page_share * len(blocks):
        return blocks
    return [b for b in blocks if id(b) not in candidates]


def drop_trailing_link_list(blocks: list[Block], own_sites: frozenset[str],
                            min_items: int = 3, max_words: int = 20) -> list[Block]:
    """Drop a list that ends the body when each of its items is a short line linking back
    into the site ("More great stories", "Read next", "Most popular").

    Such a box follows the last paragraph on many templates and often styles only part of
    each line as the link, so the link-only rule misses it. Only at the tail: a list of
    links in the middle of a story is more often the story's own (sources, key points).
    """
    if not blocks or blocks[-1].kind != "item" or not own_sites:
        return blocks
    group = blocks[-1].group
    start = len(blocks)
    while start > 0 and blocks[start - 1].kind == "item" and blocks[start - 1].group == group:
        start -= 1
    items = blocks[start:]
    if start == 0 or len(items) < min_items or not all(
            b.links and _links_home(b, own_sites) and len(b.text.split()) <= max_words
            for b in items):
        return blocks
    return blocks[:start]


@dataclass(frozen=True)
class CleanupOptions:
    """Which cleaning steps run (all on by default: each won on the benchmark)."""

    title_echo: bool = True
    link_blocks: bool = True
    offsite_links_kept: bool = True  # link-only blocks pointing off the site are content
    trailing_link_list: bool = True


def clean_blocks(blocks: list[Block], title: str, description: str,
                 standfirst_marked: StandfirstTest = False,
                 options: CleanupOptions | None = None,
                 own_sites: frozenset[str] = frozenset()) -> tuple[tuple[str, ...], str]:
    """The cleaning steps: paragraphs and the description to store."""
    options = options or CleanupOptions()
    if options.link_blocks:
        blocks = drop_link_blocks(blocks, own_sites if options.offsite_links_kept
                                  else frozenset())
    if options.trailing_link_list:
        blocks = drop_trailing_link_list(blocks, own_sites)
    if options.title_echo:
        blocks, description = drop_title_echo(blocks, title, description, standfirst_marked)
    return tuple(b.text for b in blocks), description
