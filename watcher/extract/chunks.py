"""Articles split across sibling containers: find the continuation chunks trafilatura left.

Some CMSs render a story's body as a run of identical containers with ads or promos
between them (Condé Nast's ``div.article__body`` chunks, "body-part" sections): the same
element, the same class, again further down. trafilatura takes the first container its
rules match and never looks at the others, so a story can lose half its text.

The rule: the element that holds most of the paragraphs trafilatura kept is the body
container; other elements with the same tag and class, in a parent of the same tag and
class (the template's wrapper, repeated for each chunk), holding paragraphs
of their own, in the same story (same ``<article>``/``<main>``, close in the tree, no new
headline between) are the rest of the body. They are moved into the first container of the
run, in document order, and trafilatura reads the merged tree. Everything here is a rule on
how templates are built, not on any one site.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from copy import deepcopy

from lxml.html import HtmlElement

from watcher.extract.text import clean_text

# A chunk holds at least this much paragraph text of its own (a promo box or a caption
# styled like the body has less), and at most this many levels separate two chunks from
# the element that holds them both (siblings, or cousins inside an ad-rail grid).
MIN_CHUNK_CHARS = 200
MAX_LEVELS = 3
# A new story's headline between two containers (or an h1 in the second) means two stories
# (an index page, "read next" with full text), not two chunks of one; subheads sit inside.
_HEADLINES = frozenset({"h1", "h2"})
_SCOPES = frozenset({"article", "main"})


def _signature(element: HtmlElement) -> tuple[str, ...]:
    """Tag and class of an element and of its parent: a template repeats both for every
    chunk it renders, where a shared class alone ("wsw", "rich-text") is only a style."""
    parent = element.getparent()
    outer = (parent.tag, parent.get("class") or "") if parent is not None else ("", "")
    return (element.tag, element.get("class") or "", *outer)


def _own_paragraph_chars(element: HtmlElement) -> int:
    return sum(len(clean_text(p.text_content())) for p in element.iter("p"))


def _scope(element: HtmlElement) -> HtmlElement | None:
    """The innermost ``<article>`` or ``<main>`` holding ``element``."""
    for ancestor in element.iterancestors():
        if ancestor.tag in _SCOPES:
            return ancestor
    return None


def _common_ancestor_levels(a: HtmlElement, b: HtmlElement) -> int | None:
    """Levels from ``a`` up to the element holding both; None beyond MAX_LEVELS."""
    ancestor: HtmlElement | None = a
    for level in range(MAX_LEVELS + 1):
        if ancestor is None:
            return None
        if any(x is ancestor for x in b.iterancestors()):
            return level
        ancestor = ancestor.getparent()
    return None


def _headline_between(elements: list[HtmlElement], order: dict[int, int],
                      first: HtmlElement, second: HtmlElement) -> bool:
    """An ``h1``/``h2`` after ``first`` ends and before ``second`` starts (document order;
    ``elements`` is the tree in document order, ``order`` the index of each by id)."""
    after_first = order[id(first)] + sum(1 for _ in first.iter())
    return any(e.tag in _HEADLINES for e in elements[after_first:order[id(second)]])


def body_container(tree: HtmlElement, kept: Iterable[str]) -> HtmlElement | None:
    """The element whose ``<p>`` children are most of the paragraphs trafilatura kept."""
    texts = set(kept)
    parents: Counter[HtmlElement] = Counter()
    for paragraph in tree.iter("p"):
        raw = paragraph.text_content()
        # kept texts are clean already, and cleaning them again changes nothing
        if raw in texts or clean_text(raw) in texts:
            parent = paragraph.getparent()
            if parent is not None:
                parents[parent] += 1
    if not parents:
        return None
    container, count = parents.most_common(1)[0]
    return container if count >= 2 else None


def continuation_chunks(tree: HtmlElement, kept: Iterable[str]) -> list[HtmlElement]:
    """The body container and its twin chunks, in document order; [] when there are none."""
    kept = set(kept)
    container = body_container(tree, kept)
    if container is None or not (container.get("class") or "").strip():
        return []
    signature = _signature(container)
    scope = _scope(container)
    chunks = [container]
    for twin in tree.iter(container.tag):
        # the class alone rules out almost every element of the tag, cheaply
        if twin is container or twin.get("class") != container.get("class"):
            continue
        if _signature(twin) != signature:
            continue
        if any(a is container for a in twin.iterancestors()) or any(
                a is twin for a in container.iterancestors()):
            continue
        if _scope(twin) is not scope or _common_ancestor_levels(container, twin) is None:
            continue
        if any(clean_text(p.text_content()) in kept for p in twin.iter("p")):
            continue
        if _own_paragraph_chars(twin) < MIN_CHUNK_CHARS:
            continue
        if any(True for _ in twin.iter("h1")):
            continue
        chunks.append(twin)
    if len(chunks) == 1:
        return []
    # the list keeps every element's proxy alive, so ids stay unique while it is in use
    elements = list(tree.iter())
    order = {id(e): i for i, e in enumerate(elements)}
    twins = [twin for twin in chunks[1:]
             if not _headline_between(elements, order, *sorted(
                 (container, twin), key=lambda e: order[id(e)]))]
    if not twins:
        return []
    return sorted([container, *twins], key=lambda e: order[id(e)])


def merge_chunks(tree: HtmlElement, chunks: list[HtmlElement]) -> HtmlElement:
    """A copy of ``tree`` in which the chunks' contents follow one another in the first."""
    root = tree.getroottree()
    paths = [root.getpath(chunk) for chunk in chunks]
    merged: HtmlElement = deepcopy(tree)
    copies = [merged.getroottree().xpath(path)[0] for path in paths]
    target = copies[0]
    for chunk in copies[1:]:
        for child in list(chunk):
            target.append(child)
        parent = chunk.getparent()
        if parent is not None:
            parent.remove(chunk)
    return merged
