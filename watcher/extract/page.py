"""``extract_page``: one article page's bytes to an ExtractedPage.

Pure and deterministic (the same bytes give the same result), module-level and picklable:
it runs in a worker process of ``watcher.workers.WorkerPool`` under a time limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

from lxml import etree
from lxml.html import (
    HtmlComment,
    HtmlElement,
    HtmlEntity,
    HTMLParser,
    HtmlProcessingInstruction,
    document_fromstring,
)

from watcher.charset import decode_html
from watcher.dates import DateClaim, first_plausible, url_date
from watcher.errors import ExtractError
from watcher.extract.body import (
    Block,
    TrafilaturaOptions,
    from_fallback,
    render_blocks,
    run_trafilatura,
)
from watcher.extract.chunks import continuation_chunks, merge_chunks
from watcher.extract.cleanup import CleanupOptions, clean_blocks, fill_interior_gaps, site_key
from watcher.extract.embeds import lift_embedded_posts
from watcher.extract.language import choose_language
from watcher.extract.metadata import marked_standfirst, read_metadata
from watcher.types import ExtractedPage


@dataclass(frozen=True)
class ExtractOptions:
    """Every lever of extraction; the defaults are what the benchmark kept
    (docs/extraction.md). Other values exist for bench/bench_extract.py's ablations."""

    trafilatura: TrafilaturaOptions = field(default_factory=TrafilaturaOptions)
    # A second, wider trafilatura pass whose blocks fill gaps inside the main pass's text
    # (None: no second pass). "fast" skips the readability/jusText comparison, which is
    # what drops embedded tweets and tables from the main pass.
    gap_fill: TrafilaturaOptions | None = field(
        default_factory=lambda: TrafilaturaOptions(fast=True))
    # Only when the main pass returned a fallback's text (see ``from_fallback``): otherwise
    # the fast pass finds exactly the main pass's blocks and the second pass is wasted.
    gap_fill_always: bool = False
    # Read a story split into sibling containers as one (extract/chunks.py).
    join_chunks: bool = True
    # Embedded posts out of their widget wrappers before trafilatura (extract/embeds.py).
    lift_embeds: bool = True
    cleanup: CleanupOptions = field(default_factory=CleanupOptions)


DEFAULT_OPTIONS = ExtractOptions()
# Less body text than this is not an article (a nav bar, an error page, a consent wall).
MIN_BODY_CHARS = 50
# lxml.html's own lookup picks a class for each element by its tag (form, input, label...)
# in a Python callback, run every time any code here or in trafilatura touches an element;
# nothing in extraction uses those form classes, and this lookup, done inside lxml, makes
# every element plain HtmlElement (docs/performance.md has what it saved).
_ELEMENT_CLASSES = etree.ElementDefaultClassLookup(
    element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction, entity=HtmlEntity)


def _parser() -> HTMLParser:
    # libxml2's HTML parser never loads external entities or DTDs; no_network makes sure
    # nothing is fetched whatever the page says, and huge_tree stays off so a pathological
    # page hits libxml2's depth and size limits instead of our memory.
    parser = HTMLParser(collect_ids=False, default_doctype=False, remove_comments=True,
                        remove_pis=True, no_network=True, huge_tree=False)
    parser.set_element_class_lookup(_ELEMENT_CLASSES)
    return parser


def parse_html(text: str) -> HtmlElement:
    """Parse decoded HTML; ExtractError when there is no document at all."""
    if not text.strip():
        raise ExtractError("empty page")
    try:
        tree = document_fromstring(text, parser=_parser())
    except (etree.ParserError, ValueError) as err:
        raise ExtractError(f"unreadable HTML: {err}") from err
    if tree is None:
        raise ExtractError("unreadable HTML")
    return tree


def page_dates(tree: HtmlElement, url: str, claims: tuple[DateClaim, ...],
               fetched: datetime | None) -> tuple[DateClaim, ...]:
    """The metadata's date claims, then the URL's date, then htmldate's reading of the page
    (asked only when nothing before it is plausible: it walks the whole page)."""
    found = url_date(url)
    claims += (DateClaim("url", found),) if found else ()
    if first_plausible((c.value for c in claims), fetched) is None:
        guess = _htmldate(tree, url)
        claims += (DateClaim("htmldate", guess),) if guess else ()
    return claims


# Scripts that trafilatura reads: its baseline takes a JSON-LD articleBody when all else
# fails, and a DiscussionForumPosting in JSON-LD marks a forum page.
_READ_SCRIPTS = frozenset({"application/ld+json"})


def drop_code(tree: HtmlElement) -> None:
    """Scripts and style sheets out of the tree, but for the JSON-LD trafilatura reads.

    No reader after this point wants them: trafilatura's cleaning, its readability and
    jusText comparisons and its baseline each drop them before reading any text, and our
    chunk and standfirst checks could only be misled by code inside a paragraph. Yet
    trafilatura copies the whole tree several times a page, and their text with it: half
    the characters of the dev corpus's pages. Every corpus page gives the same article as
    before (tests/extract/test_golden_corpus.py); docs/performance.md has what it saves.
    """
    for element in list(tree.iter("script", "style")):
        if element.tag == "script" and element.get("type") in _READ_SCRIPTS:
            continue
        element.drop_tree()  # keeps its tail text, as trafilatura's own removal does


def _htmldate(tree: HtmlElement, url: str) -> datetime | None:
    from htmldate import find_date  # imported here: only pages without a sane date need it

    found = find_date(tree, url=url, original_date=True, extensive_search=False)
    if not found:
        return None
    try:
        return datetime.fromisoformat(found).replace(tzinfo=UTC)
    except ValueError:
        return None


def _join_chunks(tree: HtmlElement, options: TrafilaturaOptions,
                 body: etree._Element | None, blocks: list[Block]
                 ) -> tuple[HtmlElement, etree._Element | None, list[Block]]:
    """The tree, trafilatura's body and its blocks, read again with the story's continuation
    chunks merged into its first container when there are any (extract/chunks.py). The
    merged reading is kept only when it keeps what the first one had and adds to it."""
    chunks = continuation_chunks(tree, [b.text for b in blocks])
    if not chunks:
        return tree, body, blocks
    merged = merge_chunks(tree, chunks)
    wider = run_trafilatura(merged, options)
    if wider is None:
        return tree, body, blocks
    more = render_blocks(wider)
    found = {b.text for b in more}
    kept = sum(b.text in found for b in blocks)
    if kept < 0.9 * len(blocks) or sum(map(len, found)) <= sum(len(b.text) for b in blocks):
        return tree, body, blocks
    return merged, wider, more


def extract_page(html: bytes, url: str, content_type: str | None = None,
                 fetched: datetime | None = None) -> ExtractedPage:
    """The article in a page: title, standfirst, body paragraphs, date, author, language.

    ``content_type`` is the HTTP Content-Type header (its charset is honoured as browsers
    do); ``fetched``, when given, bounds the plausible publication dates (watcher/dates.py).
    Raises ExtractError when the page has no usable article text.
    """
    return extract_with(html, url, content_type, DEFAULT_OPTIONS, fetched)


def extract_with(html: bytes, url: str, content_type: str | None,
                 options: ExtractOptions, fetched: datetime | None = None) -> ExtractedPage:
    """``extract_page`` with every lever explicit (the benchmark's ablations use it)."""
    tree = parse_html(decode_html(html, content_type))
    meta = read_metadata(tree)
    if options.lift_embeds:
        lift_embedded_posts(tree)
    # before the scripts go: htmldate reads dates from JSON blobs and script text
    dates = page_dates(tree, url, meta.dates, fetched)
    drop_code(tree)
    body = run_trafilatura(tree, options.trafilatura)
    blocks = render_blocks(body) if body is not None else []
    if options.join_chunks and blocks:
        tree, body, blocks = _join_chunks(tree, options.trafilatura, body, blocks)
    if (options.gap_fill is not None and blocks
            and (options.gap_fill_always or from_fallback(body))):
        wider = run_trafilatura(tree, options.gap_fill)
        if wider is not None:
            blocks = fill_interior_gaps(blocks, render_blocks(wider))
    # asked only when a copy of the description opens the body (it walks the whole page)
    standfirst = partial(marked_standfirst, tree, meta.description)
    own_sites = frozenset(filter(None, (site_key(url), site_key(meta.canonical_url))))
    paragraphs, description = clean_blocks(blocks, meta.title, meta.description, standfirst,
                                           options.cleanup, own_sites)
    if sum(len(p) for p in paragraphs) < MIN_BODY_CHARS:
        raise ExtractError("no article text found")
    text = "\n".join(paragraphs)
    return ExtractedPage(
        title=meta.title or paragraphs[0][:200],
        description=description,
        paragraphs=paragraphs,
        published=first_plausible((c.value for c in dates), fetched),
        dates=dates,
        author=meta.author,
        language=choose_language(meta.html_lang, text),
        paywall=meta.paywall,
        site_name=meta.site_name,
    )
