"""The body rules one at a time: links home vs elsewhere, trailing link lists, continuation
chunks, embedded posts, and when the second (gap-fill) pass runs."""

from __future__ import annotations

import pytest

from tests.support.data import corpus_page, ground_truth
from watcher.extract import extract_page
from watcher.extract.body import (
    Block,
    TrafilaturaOptions,
    from_fallback,
    render_blocks,
    run_trafilatura,
)
from watcher.extract.chunks import continuation_chunks
from watcher.extract.cleanup import drop_link_blocks, drop_trailing_link_list, site_key
from watcher.extract.embeds import lift_embedded_posts
from watcher.extract.page import parse_html

URL = "https://news.example.co.uk/2024/03/storm.html"
HOME = frozenset({"example.co.uk"})
PROSE = [
    "A powerful storm battered the coast overnight, cutting power to thousands of homes "
    "and forcing the closure of several main roads across the region.",
    "Emergency services said they had received hundreds of calls from residents whose "
    "houses were flooded as rivers burst their banks in the early hours of the morning.",
    "Forecasters expect the weather to calm down by the weekend, although further rain is "
    "likely in the north, where the ground is already saturated after weeks of showers.",
    "The council said temporary shelters would stay open until every family affected by "
    "the flooding had somewhere dry to sleep, however long the clean-up takes.",
    "Insurers warned that claims could run into the hundreds of millions, the third time "
    "in five years that the same towns have been flooded by the same rivers.",
    "Residents who lost their homes in the last flood said they had barely finished the "
    "repairs when the water came back, and some said they would not rebuild again.",
]


def p(text: str, *links: str, linked: int | None = None) -> Block:
    return Block("p", text, len(text) if linked is None else linked, 0, links)


def item(text: str, link: str, group: int = 9) -> Block:
    return Block("item", text, len(text) // 2, group, (link,))


@pytest.mark.parametrize(("url", "site"), [
    ("https://www.bbc.co.uk/news/x", "bbc.co.uk"),
    ("https://news.bbc.co.uk/x", "bbc.co.uk"),
    ("https://edition.cnn.com/x", "cnn.com"),
    ("https://www.abc.net.au/news", "abc.net.au"),
    ("https://amzn.to/abc", "amzn.to"),
    ("/relative/link", ""),
    ("mailto:desk@example.com", ""),
])
def test_site_key(url: str, site: str) -> None:
    assert site_key(url) == site


def test_link_only_blocks_leading_home_are_dropped_those_leading_away_kept() -> None:
    blocks = [p(PROSE[0], linked=0), p(PROSE[1], linked=0), p(PROSE[2], linked=0),
              p("Read more: Floods return to the valley", "https://www.example.co.uk/floods"),
              p("Full results of the inquiry", "https://www.gov.uk/inquiry.pdf"),
              p(PROSE[3], linked=0), p(PROSE[4], linked=0), p(PROSE[5], linked=0),
              p("Most read", "/most-read")] + [p(text, linked=0) for text in PROSE]
    kept = [b.text for b in drop_link_blocks(blocks, HOME)]
    assert "Full results of the inquiry" in kept
    assert "Read more: Floods return to the valley" not in kept
    assert "Most read" not in kept
    # Without knowing the page's site every link-only block counts as navigation.
    assert "Full results of the inquiry" not in [b.text for b in drop_link_blocks(blocks)]


def test_trailing_list_of_links_home_is_dropped_only_at_the_tail() -> None:
    related = [item(f"Story number {n} about something else", f"https://example.co.uk/{n}")
               for n in range(4)]
    body = [p(text, linked=0) for text in PROSE[:3]]
    assert drop_trailing_link_list(body + related, HOME) == body
    middle = body + related + [p(PROSE[3], linked=0)]
    assert drop_trailing_link_list(middle, HOME) == middle
    away = [item(f"Product {n}", f"https://shop.example.org/{n}") for n in range(4)]
    assert drop_trailing_link_list(body + away, HOME) == body + away


def chunked_page(between: str = '<div class="ad"><span>Advertisement</span></div>',
                 second_parent: str = "grid") -> bytes:
    first = "".join(f"<p>{t}</p>" for t in PROSE[:3])
    second = "".join(f"<p>{t}</p>" for t in PROSE[3:])
    return f"""<html><head><title>Storm</title></head><body><article>
<h1>Storm hits the coast</h1><div class="chunks">
<div class="grid"><div class="body article__body">{first}</div></div>
{between}
<div class="{second_parent}"><div class="body article__body">{second}</div></div>
</div></article></body></html>""".encode()


def test_story_split_in_chunks_is_read_whole() -> None:
    page = extract_page(chunked_page(), URL)
    assert list(page.paragraphs) == PROSE


@pytest.mark.parametrize("html", [
    # a new headline between the two: two stories, not one in two parts
    chunked_page(between="<h2>Next story: the election</h2>"),
    # the same class in a different wrapper is a style, not a template's chunk
    chunked_page(second_parent="sidebar"),
])
def test_containers_that_are_not_chunks_stay_apart(html: bytes) -> None:
    tree = parse_html(html.decode())
    assert continuation_chunks(tree, PROSE[:3]) == []


TWEET_PAGE = f"""<html><body><article><h1>Manager leaves</h1>
<p>{PROSE[0]}</p><p>{PROSE[1]}</p>
<div class="article-widget article-tweet"><div class="tweet__inner"><div class="tweet__content">
<blockquote class="twitter-tweet"><p>I can't thank this man enough. He has taught me so much and
I am so grateful for everything he has done for me.</p>&mdash; A Player (@player)
<a href="https://twitter.com/player/status/1">November 19, 2019</a></blockquote>
</div></div></div>
<p>{PROSE[2]}</p><p>{PROSE[3]}</p></article></body></html>"""


def test_embedded_post_is_lifted_out_of_its_widget() -> None:
    tree = parse_html(TWEET_PAGE)
    assert lift_embedded_posts(tree) == 1
    quote = next(tree.iter("blockquote"))
    assert quote.getparent().tag == "article"
    page = extract_page(TWEET_PAGE.encode(), URL)
    assert any("thank this man" in line for line in page.paragraphs)


def test_gap_fill_runs_after_the_readability_fallback_and_finds_the_tweets() -> None:
    # dawgsbynature.com: trafilatura prefers readability's text, which drops the embedded
    # tweets; its own pass keeps them. This pins the marker of a fallback answer.
    page_id = next(i for i in sorted(ground_truth()) if i.startswith("6a72de37e8"))
    html = corpus_page(page_id)
    url = ground_truth()[page_id]["url"]
    tree = parse_html(html.decode("utf-8"))
    assert from_fallback(run_trafilatura(tree, TrafilaturaOptions()))
    assert not from_fallback(run_trafilatura(tree, TrafilaturaOptions(fast=True)))
    page = extract_page(html, url, "text/html; charset=utf-8")
    assert any("highest-graded player" in line for line in page.paragraphs)


def test_a_page_drops_its_link_lines_home_relative_or_not_and_keeps_those_leading_away() -> None:
    """trafilatura is not asked to resolve the page's links: a relative link has no host,
    which cleanup counts as home, as it would the resolved link."""
    body = "".join(f"<p>{text}</p>" for text in PROSE[:3])
    body += '<p><a href="/most-read">Most read this week on our pages</a></p>'
    body += "".join(f"<p>{text}</p>" for text in PROSE[3:5])
    body += ('<p><a href="//www.gov.uk/inquiry.pdf">Read the full results of the public '
             "inquiry into the floods</a></p>")
    body += f"<p>{PROSE[5]}</p>"
    html = (f"<html><head><title>Storm</title></head><body><article><h1>Storm</h1>{body}"
            "</article></body></html>")
    found = run_trafilatura(parse_html(html), TrafilaturaOptions())
    assert found is not None
    links = {b.text: b.links for b in render_blocks(found)}
    assert links["Most read this week on our pages"] == ("/most-read",)
    paragraphs = extract_page(html.encode(), URL, "text/html; charset=utf-8").paragraphs
    assert "Read the full results of the public inquiry into the floods" in paragraphs
    assert "Most read this week on our pages" not in paragraphs
    assert all(text in paragraphs for text in PROSE)
