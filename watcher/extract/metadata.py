"""Page metadata read from the parsed HTML: title, standfirst, date, author, language hints,
paywall markers.

Publishers fill ``og:*``/``twitter:*`` meta tags and JSON-LD for search engines and social
cards; these are cleaner than anything read off the visible page (no site-name suffixes, no
"Updated 3 hours ago"), so they come first and the visible ``<h1>``/``<title>`` are fallbacks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lxml.html import HtmlElement

from watcher.dates import DateClaim, DateSource, as_utc, first_plausible
from watcher.extract.text import clean_text

# JSON-LD types whose fields describe the article itself (not the site or a breadcrumb).
_ARTICLE_TYPES = frozenset({
    "article", "newsarticle", "blogposting", "reportagenewsarticle", "analysisnewsarticle",
    "opinionnewsarticle", "reviewnewsarticle", "backgroundnewsarticle", "liveblogposting",
    "scholarlyarticle", "techarticle", "webpage", "socialmediaposting", "report",
})
_TITLE_SEPARATORS = re.compile(r"\s+[|\-–—:·•]\s+")
_MAX_JSON_LD = 1_000_000  # characters; a bigger blob is not metadata worth parsing


@dataclass(frozen=True)
class PageMetadata:
    title: str = ""
    description: str = ""
    published: datetime | None = None  # the best plausible claim (fetch time not yet known)
    dates: tuple[DateClaim, ...] = ()  # every date the page claims, best source first
    author: str = ""
    site_name: str = ""  # what the site calls itself (``_site_name``), "" when unnamed
    html_lang: str | None = None  # <html lang>, og:locale, Content-Language, inLanguage
    paywall: bool = False
    canonical_url: str = ""  # <link rel=canonical> or og:url: the address the site gives it


def _meta_tags(tree: HtmlElement) -> dict[str, str]:
    """``<meta>`` name/property/itemprop -> content; the first occurrence of a key wins."""
    found: dict[str, str] = {}
    for meta in tree.iter("meta"):
        content = meta.get("content")
        if content is None:
            continue
        for attr in ("property", "name", "itemprop", "http-equiv"):
            key = (meta.get(attr) or "").strip().lower()
            if key and key not in found:
                found[key] = content.strip()
    return found


def _json_ld_objects(tree: HtmlElement) -> Iterator[dict[str, Any]]:
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        raw = script.text or ""
        if len(raw) > _MAX_JSON_LD:
            continue
        try:
            data = json.loads(raw)
        except ValueError:  # publishers ship broken JSON-LD often; it is only a hint
            continue
        yield from _walk(data, depth=0)


def _walk(data: Any, depth: int) -> Iterator[dict[str, Any]]:
    if depth > 4:
        return
    if isinstance(data, list):
        for item in data:
            yield from _walk(item, depth + 1)
    elif isinstance(data, dict):
        yield data
        if "@graph" in data:
            yield from _walk(data["@graph"], depth + 1)
        if isinstance(data.get("mainEntity"), dict):
            yield from _walk(data["mainEntity"], depth + 1)


def _types(obj: dict[str, Any]) -> set[str]:
    kind = obj.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return {k.lower() for k in kinds if isinstance(k, str)}


def _article_ld(tree: HtmlElement) -> list[dict[str, Any]]:
    # Article types first so a NewsArticle's headline beats the WebPage's name.
    objects = [o for o in _json_ld_objects(tree) if _types(o) & _ARTICLE_TYPES]
    return sorted(objects, key=lambda o: "webpage" in _types(o))


def _ld_text(value: Any) -> str:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list) and value:
        return _ld_text(value[0])
    if isinstance(value, dict):
        return _ld_text(value.get("name") or value.get("@value"))
    return ""


def _ld_authors(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    names = [_ld_text(item) for item in items]
    return [n for n in names if n and not n.startswith("http")]


def parse_datetime(value: str | None) -> datetime | None:
    """An ISO 8601 date or datetime as aware UTC; a date or naive time is taken as UTC.
    None when unreadable, or not expressible in UTC (year 1 with a positive offset)."""
    if not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # 2019-11-19T10:00:00.000+0000: fromisoformat wants +00:00 in 3.11's stricter forms
    text = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return as_utc(parsed)


# Where each metadata date is read, best first (watcher/dates.py ranks the sources).
_META_DATES: tuple[tuple[DateSource, str], ...] = (
    ("meta", "article:published_time"), ("meta", "datepublished"))
_OPENGRAPH_DATES: tuple[tuple[DateSource, str], ...] = (
    ("opengraph", "og:published_time"), ("opengraph", "pubdate"),
    ("opengraph", "publish-date"), ("opengraph", "dc.date.issued"), ("opengraph", "date"))


def date_claims(meta: dict[str, str], ld: list[dict[str, Any]]) -> tuple[DateClaim, ...]:
    """Every publication date the page's metadata claims, parsed, best source first;
    implausible ones included (``dates.publication_time`` judges them)."""
    raw: list[tuple[DateSource, str | None]] = [(s, meta.get(k)) for s, k in _META_DATES]
    raw += [("json-ld", _ld_text(o.get(key))) for key in ("datePublished", "dateCreated")
            for o in ld]
    raw += [(s, meta.get(k)) for s, k in _OPENGRAPH_DATES]
    claims: list[DateClaim] = []
    for source, value in raw:
        parsed = parse_datetime(value)
        if parsed is not None:
            claims.append(DateClaim(source, parsed))
    return tuple(claims)


def _first_text(tree: HtmlElement, tag: str) -> str:
    for element in tree.iter(tag):
        text = clean_text(element.text_content())
        if text:
            return text
    return ""


def strip_site_name(title: str, site_name: str) -> str:
    """Drop a trailing (or leading) " | Site" part that names the site, not the story."""
    site = site_name.casefold().strip()
    separators = list(_TITLE_SEPARATORS.finditer(title))
    if not site or not separators:
        return title
    last = separators[-1]
    tail = title[last.end():].casefold().strip()
    if tail and (tail in site or site in tail):
        return title[:last.start()].strip()
    first = separators[0]
    head = title[:first.start()].casefold().strip()
    if head and (head in site or site in head):
        return title[first.end():].strip()
    return title


def _title(meta: dict[str, str], ld: list[dict[str, Any]], tree: HtmlElement,
           site_name: str) -> str:
    candidates = [meta.get("og:title", ""), meta.get("twitter:title", "")]
    candidates += [_ld_text(o.get("headline")) for o in ld]
    candidates += [_first_text(tree, "h1"), _first_text(tree, "title")]
    for candidate in candidates:
        text = clean_text(candidate)
        if text:
            return strip_site_name(text, site_name)
    return ""


def _compact(name: str) -> str:
    """``name`` as a slug spells it: no article in front, no spaces or punctuation."""
    return "".join(ch for ch in re.sub(r"^the\s+", "", name.casefold()) if ch.isalnum())


def _declared_site_name(meta: dict[str, str]) -> str:
    return clean_text(meta.get("og:site_name", "") or meta.get("application-name", ""))


def _site_name(meta: dict[str, str], ld: list[dict[str, Any]]) -> str:
    """What the page calls its outlet: ``og:site_name`` (else ``application-name``), else the
    article's JSON-LD publisher. A declared name written as a slug ("floridatoday", as the
    Gannett sites do) gives way to the publisher's name when that is the same name spelled
    for people ("Florida Today", "The Detroit News"); a publisher of another name (often
    the parent company) never replaces the site's own."""
    declared = _declared_site_name(meta)
    if declared.startswith("http"):  # an address where the name belongs is no name
        declared = ""
    publishers = [name for name in (_ld_text(o.get("publisher")) for o in ld)
                  if name and not name.startswith("http")]
    if not declared:
        return publishers[0] if publishers else ""
    if declared == declared.lower() and " " not in declared:
        for name in publishers:
            if _compact(name) == _compact(declared):
                return name
    return declared


def _paywalled(meta: dict[str, str], ld: list[dict[str, Any]]) -> bool:
    """Structured paywall markers only (schema.org isAccessibleForFree, content tier):
    CSS class names saying "paywall" sit on free pages too, and would mislabel them."""
    for obj in ld:
        free = obj.get("isAccessibleForFree")
        if free is False or (isinstance(free, str) and free.strip().lower() == "false"):
            return True
    if meta.get("isaccessibleforfree", "").lower() == "false":
        return True
    return meta.get("article:content_tier", "").lower() == "locked"


def _language_hint(tree: HtmlElement, meta: dict[str, str],
                   ld: list[dict[str, Any]]) -> str | None:
    candidates: list[str | None] = [tree.get("lang"), tree.get("xml:lang"),
                                     meta.get("content-language"), meta.get("og:locale")]
    candidates += [_ld_text(o.get("inLanguage")) for o in ld]
    for value in candidates:
        if value and value.strip():
            return str(value).strip()
    return None


# Class/id words publishers use for a standfirst set apart from the story's first paragraph.
_STANDFIRST_MARK = re.compile(
    r"standfirst|\bdeck?\b|\bdek\b|sub-?title|sub-?head|strap|\bintro|\blede\b|\blead\b|"
    r"excerpt|teaser|summary|description|abstract|synopsis|kicker", re.IGNORECASE)
# Every alternative of _STANDFIRST_MARK holds one of these, in lower case. A page has
# hundreds of class names and the case-blind regex is slow on each, so an ASCII name holding
# none of them is answered without it. (A name with other characters goes to the regex:
# case-blind matching also pairs "k" with the Kelvin sign and "s" with the long s.)
_STANDFIRST_PARTS = ("standfirst", "dec", "dek", "sub", "strap", "intro", "lede", "lead",
                     "excerpt", "teaser", "summary", "description", "abstract", "synopsis",
                     "kicker")


def is_standfirst_mark(marks: str) -> bool:
    """Whether a class/id says standfirst (``_STANDFIRST_MARK``)."""
    if marks.isascii():
        lowered = marks.lower()
        if not any(part in lowered for part in _STANDFIRST_PARTS):
            return False
    return _STANDFIRST_MARK.search(marks) is not None


def marked_standfirst(tree: HtmlElement, description: str) -> bool:
    """Whether the page shows ``description`` in an element marked as a standfirst (by its
    class or id), rather than as the article's plain first paragraph."""
    from watcher.extract.cleanup import echoes  # cleanup imports nothing from here

    marked: dict[str, bool] = {}  # a page repeats its few class names on many elements
    for element in tree.xpath("//body//*[@class or @id]"):
        marks = f"{element.get('class', '')} {element.get('id', '')}"
        if marks not in marked:
            marked[marks] = is_standfirst_mark(marks)
        if marked[marks] and echoes(element.text_content(), description):
            return True
    return False


def _canonical_url(tree: HtmlElement, meta: dict[str, str]) -> str:
    for link in tree.iter("link"):
        if "canonical" in (link.get("rel") or "").lower().split():
            href = (link.get("href") or "").strip()
            if href:
                return href
    return meta.get("og:url", "")


def read_metadata(tree: HtmlElement) -> PageMetadata:
    meta = _meta_tags(tree)
    ld = _article_ld(tree)
    # The title is cut at the name the page declares, as it spells it in its <title>.
    declared = _declared_site_name(meta)
    description = ""
    for candidate in (meta.get("og:description"), meta.get("description"),
                      meta.get("twitter:description"),
                      *(_ld_text(o.get("description")) for o in ld)):
        description = clean_text(candidate or "")
        if description:
            break
    claims = date_claims(meta, ld)
    authors: list[str] = []
    for obj in ld:
        authors = _ld_authors(obj.get("author"))
        if authors:
            break
    if not authors:
        for key in ("author", "article:author", "byl", "dc.creator", "parsely-author"):
            value = clean_text(meta.get(key, ""))
            if value and not value.startswith("http"):
                authors = [re.sub(r"^by\s+", "", value, flags=re.IGNORECASE)]
                break
    return PageMetadata(
        title=_title(meta, ld, tree, declared),
        description=description,
        published=first_plausible(c.value for c in claims),
        dates=claims,
        author=", ".join(dict.fromkeys(authors)),
        site_name=_site_name(meta, ld),
        html_lang=_language_hint(tree, meta, ld),
        paywall=_paywalled(meta, ld),
        canonical_url=_canonical_url(tree, meta),
    )
