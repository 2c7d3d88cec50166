"""A fake news site on 127.0.0.1 built from real material: feeds (RSS 2.0, Atom, RDF) whose
entries link to real article pages (the shared corpus) and to pages carrying the seeds' text.
Used by the end-to-end tests and by the cycle benchmark.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import urlsplit

from tests.support.data import SEEDS, corpus_page, ground_truth
from tests.support.servers import LocalHTTPServer

BASE_TIME = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Item:
    guid: str
    path: str  # where the article page is served
    title: str
    summary: str
    published: datetime


@dataclass(frozen=True)
class SeedPage:
    title: str
    standfirst: str
    paragraphs: tuple[str, ...]


def read_seed(name: str) -> SeedPage:
    lines = [line for line in (SEEDS / name).read_text(encoding="utf-8").split("\n") if line]
    return SeedPage(lines[0], lines[1], tuple(lines[2:]))


def article_html(title: str, standfirst: str, paragraphs: Sequence[str], *,
                 site_name: str = "The Independent") -> str:
    """A plain news page: metadata in <head>, the story in <article>, chrome around it."""
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)} | {site_name}</title>
<meta property="og:title" content="{html.escape(title, quote=True)}">
<meta name="description" content="{html.escape(standfirst, quote=True)}">
<meta property="og:description" content="{html.escape(standfirst, quote=True)}">
<meta property="og:site_name" content="{site_name}">
<meta property="article:published_time" content="2023-07-19T15:15:00Z">
</head><body>
<header><nav><a href="/">Home</a> <a href="/news">News</a> <a href="/world">World</a></nav></header>
<main><article>
<h1>{html.escape(title)}</h1>
<p class="standfirst">{html.escape(standfirst)}</p>
{body}
</article></main>
<footer><p>© {site_name} 2026. All rights reserved.</p></footer>
</body></html>"""


def rss(items: Sequence[Item], server: LocalHTTPServer, title: str = "World news") -> str:
    entries = "\n".join(
        f"""<item><title>{html.escape(i.title)}</title><link>{server.url(i.path)}?utm_source=rss</link>
<guid isPermaLink="false">{i.guid}</guid><pubDate>{format_datetime(i.published)}</pubDate>
<description>{html.escape(i.summary)}</description></item>""" for i in items)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>{html.escape(title)}</title><link>{server.url("/")}</link>
<description>news</description>{entries}</channel></rss>"""


def atom(items: Sequence[Item], server: LocalHTTPServer, title: str = "World news") -> str:
    entries = "\n".join(
        f"""<entry><title>{html.escape(i.title)}</title><link href="{server.url(i.path)}"/>
<id>{i.guid}</id><updated>{i.published.isoformat()}</updated>
<summary>{html.escape(i.summary)}</summary></entry>""" for i in items)
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>{html.escape(title)}</title>
<id>{server.url("/atom")}</id><updated>{BASE_TIME.isoformat()}</updated>{entries}</feed>"""


def rdf(items: Sequence[Item], server: LocalHTTPServer, title: str = "World news") -> str:
    entries = "\n".join(
        f"""<item rdf:about="{server.url(i.path)}"><title>{html.escape(i.title)}</title>
<link>{server.url(i.path)}</link><description>{html.escape(i.summary)}</description>
<dc:date>{i.published.isoformat()}</dc:date></item>""" for i in items)
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
 xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="{server.url("/rdf")}"><title>{html.escape(title)}</title>
<link>{server.url("/")}</link><description>news</description></channel>{entries}</rdf:RDF>"""


def serve_corpus(server: LocalHTTPServer, limit: int | None = None,
                 prefix: str = "") -> list[Item]:
    """Serve the real corpus pages at their own paths; returns feed items pointing at them."""
    items = []
    for index, (page_id, truth) in enumerate(sorted(ground_truth().items())[:limit]):
        path = prefix + (urlsplit(truth["url"]).path or "/") + f"-{page_id[:8]}"
        server.route(path, corpus_page(page_id))
        first_line = truth["articleBody"].strip().split("\n")[0]
        items.append(Item(guid=f"{prefix}corpus-{page_id}", path=path,
                          title=first_line[:80] or page_id, summary=first_line[:200],
                          published=BASE_TIME - timedelta(minutes=index)))
    return items


def serve_seeds(server: LocalHTTPServer) -> dict[str, Item]:
    """Pages carrying the two seed articles' text; keys are the seed file names."""
    items = {}
    for index, name in enumerate(sorted(p.name for p in Path(SEEDS).glob("*.txt"))):
        seed = read_seed(name)
        path = f"/news/world/europe/seed-{index}"
        server.route(path, article_html(seed.title, seed.standfirst, seed.paragraphs))
        items[name] = Item(guid=f"seed-{index}", path=path, title=seed.title,
                           summary=seed.standfirst, published=BASE_TIME + timedelta(hours=index))
    return items


def news_sitemap(items: Sequence[Item], server: LocalHTTPServer, language: str = "en") -> str:
    """A Google News sitemap (sitemaps.org urlset with the news extension) for ``items``."""
    urls = "\n".join(
        f"""<url><loc>{server.url(i.path)}</loc><news:news><news:publication>
<news:name>World news</news:name><news:language>{language}</news:language></news:publication>
<news:publication_date>{i.published.isoformat()}</news:publication_date>
<news:title>{html.escape(i.title)}</news:title></news:news></url>""" for i in items)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
{urls}
</urlset>"""


def sitemap_index(paths: Sequence[str], server: LocalHTTPServer) -> str:
    """A sitemap index listing ``paths``, the first the newest."""
    children = "\n".join(
        f"<sitemap><loc>{server.url(path)}</loc>"
        f"<lastmod>{(BASE_TIME - timedelta(days=n)).isoformat()}</lastmod></sitemap>"
        for n, path in enumerate(paths))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
{children}
</sitemapindex>"""
