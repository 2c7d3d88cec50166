"""Feed bytes and response headers -> ``ParsedFeed``: the one place feedparser is seen.

``parse_feed`` is pure and deterministic (no clock, no network, no files), and a module-level
function, so it can run in a worker process under a time limit.

What it does before feedparser sees the document, and why:

1. Decode the bytes ourselves, the way browsers do: a byte order mark wins, then the HTTP
   ``charset``, then the XML declaration (or an HTML ``<meta charset>``), then UTF-8.
   feedparser follows RFC 3023 instead (``text/xml`` without a charset means US-ASCII), which
   disagrees with every browser and with what publishers test against. One guard on top:
   a document labelled Latin-1/windows-1252 whose bytes are valid, non-ASCII UTF-8 is UTF-8
   (a mislabelled server default is far likelier than Latin-1 text that happens to be valid
   UTF-8), so the classic ``Ã©`` mojibake never reaches us. Unlabelled bytes that are not
   UTF-8 are windows-1252 unless a detector clearly finds a script-specific encoding.
2. Refuse an HTML page with a ``ParseError`` that names the feeds it advertises, and any
   other document whose root element is not a feed's (feedparser would walk it all first).
3. Remove the DOCTYPE declaration with its internal subset. Without it there is nothing to
   expand (billion laughs, quadratic blow-up) and nothing external to load. feedparser's own
   DOCTYPE filter is a line-anchored regex: declarations written on one line reach expat,
   whose amplification limit stops billion laughs only after about a second of CPU.
4. Cap the text of author-like elements. feedparser looks for an e-mail address in a
   free-text author with a regex that is quadratic in the length of a word
   (``mixin._sync_author_detail``): 16,000 letters take about two seconds, a megabyte
   hours. The worker time limit is the backstop; this makes the hostile feed parse normally.
5. Hand feedparser UTF-8 bytes in a stream (never a string: it would treat one as a URL or a
   path) with a ``Content-Type`` that says so, and ``Content-Location`` = the feed URL, so
   relative links resolve against it.

Then feedparser's dictionaries are converted to our frozen types at once; nothing of them
leaves this module.
"""

from __future__ import annotations

import codecs
import hashlib
import html
import io
import itertools
import re
import xml.sax
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from xml.sax.saxutils import escape as xml_escape

import charset_normalizer
import feedparser
import lxml.etree
import lxml.html

from watcher.dates import first_plausible
from watcher.errors import ParseError
from watcher.types import FeedEntry, ParsedFeed
from watcher.urls import is_http_url, resolve

__all__ = ["parse_feed"]

# The longest author text handed to feedparser (see point 4 above); real bylines are far
# shorter, and at this length feedparser's e-mail regex costs microseconds.
MAX_AUTHOR_CHARS = 256

# A sane RSS <ttl> is minutes to a day; a year is already absurd, more is garbage.
_MAX_TTL_MINUTES = 366 * 24 * 60

_FEED_LINK_TYPES = frozenset({"application/rss+xml", "application/atom+xml"})


def parse_feed(content: bytes, headers: Mapping[str, str], url: str) -> ParsedFeed:
    """Parse one fetched feed. Raises ``ParseError`` when no entries can be had from it.

    ``headers`` are the response headers (any case); ``url`` is the feed's final URL, the
    base for relative links. A malformed feed that still yields entries is returned with
    ``warning`` saying what was wrong.
    """
    if not content.strip():
        raise ParseError("empty response body: no feed")
    lowered = {k.lower(): v for k, v in headers.items()}
    mime, charset = _content_type(lowered.get("content-type", ""))
    text, notes = _decode(content, charset, mime)
    prolog = _scan_prolog(text)
    if prolog.is_html:
        raise ParseError(_html_instead_of_feed(text, url))
    if prolog.root and not prolog.is_feed:
        # feedparser would still walk every element (tens of microseconds each): a large
        # non-feed document would hold a worker for nothing.
        raise _not_a_feed(text, url, mime, prolog.root)
    text, more_notes = _make_safe(text, prolog)
    notes += more_notes

    base = resolve(url, lowered["content-location"]) if "content-location" in lowered else url
    fp_headers = {"content-type": "application/xml; charset=utf-8", "content-location": base}
    if "content-language" in lowered:
        fp_headers["content-language"] = lowered["content-language"]
    try:
        result = feedparser.parse(io.BytesIO(text.encode("utf-8")), response_headers=fp_headers)
    except Exception as exc:  # feedparser is a large parser of hostile input: name the failure
        raise ParseError(f"feed parser failed: {type(exc).__name__}: {exc}") from exc

    entries = _entries(result.get("entries") or [], base)
    if not entries and not result.get("version"):
        raise _not_a_feed(text, url, mime, prolog.root)
    if result.get("bozo") and not entries:
        raise ParseError(f"malformed feed, no entries could be read: {_bozo_reason(result)}")
    if result.get("bozo"):
        notes.append(f"malformed feed, read leniently: {_bozo_reason(result)}")

    feed = dict(result.get("feed") or {})
    site = _text_field(feed, "link")
    return ParsedFeed(
        title=_plain(feed, "title"),
        site_url=resolve(base, site) if site else "",
        entries=entries,
        ttl=_ttl(feed.get("ttl")),
        warning="; ".join(notes) or None,
    )


# --- decoding ---------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# XML 1.0 appendix F: "<" in UTF-32 or "<?" in UTF-16, without a BOM.
_NO_BOM_SNIFF = (
    (b"<\x00\x00\x00", "utf_32_le"),
    (b"\x00\x00\x00<", "utf_32_be"),
    (b"<\x00?\x00", "utf_16_le"),
    (b"\x00<\x00?", "utf_16_be"),
)
_XML_DECL_ENCODING = re.compile(
    rb"""^\s*<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z][A-Za-z0-9._:-]{0,40})["']"""
)
_META_CHARSET = re.compile(rb"""<meta[^>]{0,300}?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]{1,40})""",
                           re.IGNORECASE)
# Labels browsers treat as windows-1252 (the WHATWG Encoding Standard maps them so), and the
# ones whose codec is a strict superset worth using instead.
_AS_WINDOWS_1252 = frozenset({"cp1252", "latin_1", "ascii", "iso8859_1"})
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "euc_kr": "cp949", "tis_620": "cp874",
              "shift_jis": "cp932"}


def _content_type(value: str) -> tuple[str, str]:
    """``"Text/XML; Charset=\"UTF-8\""`` -> ``("text/xml", "UTF-8")``."""
    mime, *params = value.split(";")
    charset = ""
    for param in params:
        name, _, arg = param.partition("=")
        if name.strip().lower() == "charset":
            charset = arg.strip().strip("\"'").strip()
    return mime.strip().lower(), charset


def _codec(label: str) -> str | None:
    """Python's codec name for an encoding label, browser aliases applied; None if unknown."""
    try:
        name = codecs.lookup(label.strip()).name
    except (LookupError, ValueError):
        return None
    name = name.replace("-", "_")
    if name in _AS_WINDOWS_1252:
        return "cp1252"
    if name in ("utf_16", "utf_32"):  # a label without byte order and no BOM: little-endian
        return name + "_le"
    return _SUPERSETS.get(name, name)


def _decode(content: bytes, http_charset: str, mime: str) -> tuple[str, list[str]]:
    """Bytes -> text, with the browser's precedence; notes say what was overridden."""
    notes: list[str] = []
    for bom, bom_codec in _BOMS:
        if content.startswith(bom):
            try:
                return content[len(bom) :].decode(bom_codec), notes
            except UnicodeDecodeError:
                notes.append(f"invalid {bom_codec} bytes replaced with U+FFFD")
                return content[len(bom) :].decode(bom_codec, "replace"), notes

    codec = _codec(http_charset) if http_charset else None
    if codec is None:
        head = content[:1024]
        for marker, sniffed in _NO_BOM_SNIFF:
            if head.startswith(marker):
                codec = sniffed
                break
        else:
            found = _XML_DECL_ENCODING.match(head) or (
                _META_CHARSET.search(head) if mime.endswith("html") or b"<html" in head.lower()
                else None
            )
            codec = _codec(found.group(1).decode("ascii")) if found else None
            if codec in ("utf_16_le", "utf_16_be", "utf_32_le", "utf_32_be"):
                codec = None  # the bytes are ASCII-compatible, so the label is wrong
    declared = codec
    codec = codec or "utf_8"

    if codec == "cp1252" and not content.isascii():
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            notes.append("labelled windows-1252/Latin-1 but the bytes are UTF-8; read as UTF-8")
            return text, notes
    try:
        return content.decode(codec), notes
    except UnicodeDecodeError:
        pass
    if codec != "utf_8":
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            notes.append(f"labelled {declared} but the bytes are UTF-8; read as UTF-8")
            return text, notes
    if declared is None:
        guessed = _guess_codec(content)
        notes.append(f"no charset given and not UTF-8; read as {guessed}")
        return content.decode(guessed, "replace"), notes
    notes.append(f"invalid {declared} bytes replaced with U+FFFD")
    return content.decode(codec, "replace"), notes


# Guesses a detector may make about a short Western text: they agree with windows-1252 on
# the letters that matter or are worse (a few accents are no evidence for cp852 over it).
_LATIN_FAMILY = frozenset({
    "ascii", "latin_1", "cp1250", "cp1252", "cp1254", "cp1257", "iso8859_2", "iso8859_3",
    "iso8859_4", "iso8859_9", "iso8859_10", "iso8859_13", "iso8859_14", "iso8859_15",
    "iso8859_16", "mac_roman", "mac_latin2", "mac_iceland", "mac_turkish", "cp437", "cp850",
    "cp852", "cp858", "cp860", "cp861", "cp862", "cp863", "cp865",
})
_MAX_DETECTION_CHAOS = 0.2


def _guess_codec(content: bytes) -> str:
    """The codec of an unlabelled document that is not UTF-8.

    Browsers fall back on the reader's locale; we have none. The commonest real case is
    Latin-1 text without a declaration, which windows-1252 (a superset) reads. A detector
    is consulted for the rest, and trusted only when it names a script-specific encoding
    (CJK, Cyrillic, Greek, Hebrew, Arabic, Thai, ...) and finds the text clean in it.
    """
    best = charset_normalizer.from_bytes(content[:200_000]).best()
    if best is None or best.chaos > _MAX_DETECTION_CHAOS:
        return "cp1252"
    codec = _codec(best.encoding)
    return "cp1252" if codec is None or codec in _LATIN_FAMILY else codec


# --- the prolog: HTML detection and DOCTYPE removal ---------------------------------------


@dataclass(frozen=True)
class _Prolog:
    xml_decl_end: int  # end of the XML declaration, 0 if none
    doctype: tuple[int, int] | None  # span of the DOCTYPE declaration
    doctype_text: str
    root: str  # name of the first element, "" if none

    @property
    def is_html(self) -> bool:
        root = self.root.lower()
        if root in ("html", "head", "body"):
            return True
        # An HTML DOCTYPE pasted above a real feed is a known publisher mistake: the root
        # element decides when it names a feed.
        return not self.is_feed and self.doctype_text[9:].strip().lower().startswith("html")

    @property
    def is_feed(self) -> bool:
        """The root is one feedparser knows: RSS, Atom (any version), RDF, CDF."""
        return self.root.rpartition(":")[2].lower() in ("rss", "feed", "rdf", "channel")


_XML_DECL = re.compile(r"\s*<\?xml(?=\s)[^>]*>")
_PROLOG_MISC = re.compile(r"(?:\s+|<!--.*?-->|<\?.*?\?>)*+", re.DOTALL)
_DOCTYPE = re.compile(
    r"""<!DOCTYPE(?:[^\[>"']++|"[^"]*+"|'[^']*+')*+"""
    r"""(?:\[(?:[^\]"']++|"[^"]*+"|'[^']*+')*+\]\s*)?>""",
    re.IGNORECASE,
)
_ROOT = re.compile(r"<([A-Za-z_][\w:.-]*)")


def _scan_prolog(text: str) -> _Prolog:
    decl = _XML_DECL.match(text)
    pos = decl.end() if decl else 0
    pos = _PROLOG_MISC.match(text, pos).end()  # type: ignore[union-attr]  # matches empty
    doctype: tuple[int, int] | None = None
    doctype_text = ""
    if text.startswith("<!", pos) and text[pos + 2 : pos + 9].upper() == "DOCTYPE":
        found = _DOCTYPE.match(text, pos)
        if found is None:
            raise ParseError("malformed feed: unterminated DOCTYPE declaration")
        doctype, doctype_text = found.span(), found.group()
        pos = _PROLOG_MISC.match(text, found.end()).end()  # type: ignore[union-attr]
    root = _ROOT.match(text, pos)
    return _Prolog(decl.end() if decl else 0, doctype, doctype_text, root.group(1) if root else "")


_INVALID_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _make_safe(text: str, prolog: _Prolog) -> tuple[str, list[str]]:
    """The document feedparser will see: our own XML declaration, no DOCTYPE, capped authors.

    Removed text is replaced by its newlines, so feedparser's line numbers stay true.
    """
    notes: list[str] = []
    body_start = prolog.xml_decl_end
    if prolog.doctype is not None:
        start, end = prolog.doctype
        if "<!ENTITY" in prolog.doctype_text.upper():
            notes.append("DOCTYPE with entity declarations removed (entities are never expanded)")
        middle = text[body_start:start] + "\n" * prolog.doctype_text.count("\n")
        rest = middle + text[end:]
    else:
        rest = text[body_start:]
    decl_newlines = "\n" * text[: prolog.xml_decl_end].count("\n")
    # Characters XML 1.0 forbids (stray control codes are common in real feeds) would make
    # the strict parser give up on the whole document; they carry no text.
    rest = _INVALID_XML_CHARS.sub("", rest)
    rest, capped = _cap_authors(rest)
    if capped:
        notes.append(f"author text longer than {MAX_AUTHOR_CHARS} characters cut short")
    return '<?xml version="1.0" encoding="utf-8"?>' + decl_newlines + rest, notes


# Elements whose text feedparser runs through its quadratic e-mail regex, any prefix.
_AUTHOR_TAG = re.compile(
    r"<(/?)(?:[A-Za-z_][\w.-]*:)?(author|creator|managingeditor|webmaster|publisher|name|email)"
    r"(?=[\s/>])[^<>]*+>",
    re.IGNORECASE,
)
_MARKUP = re.compile(r"<!--.*?-->|<!\[CDATA\[|\]\]>|<[^>]*>", re.DOTALL)


def _cap_authors(text: str) -> tuple[str, bool]:
    """Cut the text of author-like elements to ``MAX_AUTHOR_CHARS``; linear in ``text``.

    Only an element closed by its own end tag is touched; its whole content (CDATA, comments
    and entities included, which feedparser would join) is measured and replaced by the
    escaped, shortened text.
    """
    tags = list(_AUTHOR_TAG.finditer(text))
    pieces: list[str] = []
    done = 0
    for tag, following in itertools.pairwise(tags):
        opening = not tag.group(1) and not tag.group().endswith("/>")
        closes_it = following.group(1) and following.group(2).lower() == tag.group(2).lower()
        inner = text[tag.end() : following.start()]
        if not (opening and closes_it) or len(inner) <= MAX_AUTHOR_CHARS:
            continue
        plain = html.unescape(_MARKUP.sub("", inner))
        if len(plain) <= MAX_AUTHOR_CHARS:
            continue
        pieces += [text[done : tag.end()], xml_escape(plain[:MAX_AUTHOR_CHARS])]
        done = following.start()
    if not pieces:
        return text, False
    pieces.append(text[done:])
    return "".join(pieces), True


# --- HTML where a feed was expected --------------------------------------------------------


def _feed_links(text: str, url: str) -> list[str]:
    """Absolute URLs of the RSS/Atom feeds a page advertises, in page order, no repeats."""
    if "<link" not in text.lower():
        return []
    parser = lxml.html.HTMLParser(encoding="utf-8", no_network=True, remove_comments=True)
    try:
        root = lxml.html.document_fromstring(text.encode("utf-8"), parser=parser)
    except (ValueError, lxml.etree.ParserError):
        return []
    base = url
    for element in root.iter("base"):
        href = element.get("href")
        if href:
            base = resolve(url, href)
            break
    found: list[str] = []
    for link in root.iter("link"):
        rels = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").split(";")[0].strip().lower()
        href = (link.get("href") or "").strip()
        if "alternate" in rels and kind in _FEED_LINK_TYPES and href:
            absolute = resolve(base, href)
            if is_http_url(absolute) and absolute not in found:
                found.append(absolute)
    return found


def _not_a_feed(text: str, url: str, mime: str, root: str) -> ParseError:
    if mime in ("text/html", "application/xhtml+xml") or _feed_links(text, url):
        return ParseError(_html_instead_of_feed(text, url))
    named = f"<{root}>" if root else "no root element"
    return ParseError(f"not a feed: {named}, where RSS, Atom or RDF was expected")


def _html_instead_of_feed(text: str, url: str) -> str:
    links = _feed_links(text, url)
    if links:
        return f"an HTML page, not a feed; the page advertises: {', '.join(links)}"
    return "an HTML page, not a feed, and it advertises no RSS/Atom feed"


# --- feedparser's dictionaries -> our types ------------------------------------------------


def _bozo_reason(result: Mapping[str, Any]) -> str:
    exc = result.get("bozo_exception")
    if isinstance(exc, xml.sax.SAXParseException):
        return f"line {exc.getLineNumber()}, column {exc.getColumnNumber()}: {exc.getMessage()}"
    return f"{type(exc).__name__}: {exc}" if exc is not None else "unknown reason"


def _entries(raw: Iterable[Mapping[str, Any]], base: str) -> tuple[FeedEntry, ...]:
    entries: list[FeedEntry] = []
    seen: set[str] = set()
    for item in raw:
        entry = _entry(item, base)
        if entry.entry_id not in seen:  # a feed listing one item twice gives it once
            seen.add(entry.entry_id)
            entries.append(entry)
    return tuple(entries)


def _entry(fp_item: Mapping[str, Any], base: str) -> FeedEntry:
    # A plain copy: FeedParserDict answers a missing "updated*" with "published*" (and a
    # DeprecationWarning), which would blur the fallback below.
    item = dict(fp_item)
    title = _plain(item, "title")
    link = _text_field(item, "link")
    url = resolve(base, link) if link else ""
    if not is_http_url(url):
        url = ""  # javascript:, mailto:, data: ... are nothing we may fetch or show
    # 1900, 1970 and 9999 come from broken feeds: not dates (build_article bounds the future).
    published = first_plausible((_utc(item.get("published_parsed")),
                                 _utc(item.get("updated_parsed"))))
    entry_id = _text_field(item, "id") or url
    if not entry_id:
        # Neither guid nor link: the item is known by what it says and when.
        stamp = _text_field(item, "published") or _text_field(item, "updated")
        digest = hashlib.sha256(f"{title}\x1f{stamp}".encode()).hexdigest()
        entry_id = f"sha256:{digest[:32]}"
    detail = item.get("author_detail")
    author = _text_field(detail, "name") if isinstance(detail, Mapping) else ""
    return FeedEntry(
        entry_id=entry_id,
        url=url,
        title=title,
        summary=_plain(item, "summary"),
        content=_content(item.get("content")),
        published=published,
        author=_collapse(html.unescape(author or _text_field(item, "author"))),
    )


def _text_field(mapping: Mapping[str, Any], key: str) -> str:
    value = mapping.get(key)
    return value.strip() if isinstance(value, str) else ""


def _plain(mapping: Mapping[str, Any], key: str) -> str:
    """A title or summary as one line of plain text, whatever markup it came in."""
    value = _text_field(mapping, key)
    detail = mapping.get(f"{key}_detail")
    kind = detail.get("type", "") if isinstance(detail, Mapping) else ""
    if "html" in str(kind):
        return " ".join(_html_paragraphs(value))
    # Plain text: feedparser has decoded the XML once; feeds that escape twice ("&amp;#8217;")
    # are common enough to decode again.
    return _collapse(html.unescape(value))


def _content(raw: Any) -> str:
    """The entry's full content as plain text, one paragraph per line."""
    if not isinstance(raw, list):
        return ""
    for part in raw:
        if not isinstance(part, Mapping):
            continue
        value = part.get("value")
        if not isinstance(value, str) or not value.strip():
            continue
        if "html" in str(part.get("type", "")):
            return "\n".join(_html_paragraphs(value))
        lines = (_collapse(line) for line in value.splitlines())
        return "\n".join(line for line in lines if line)
    return ""


def _utc(parsed: Any) -> datetime | None:
    """feedparser's ``*_parsed`` (a UTC ``struct_time``) -> aware UTC datetime."""
    if parsed is None:
        return None
    try:
        year, month, day, hour, minute, second = (int(part) for part in parsed[:6])
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _ttl(raw: Any) -> timedelta | None:
    try:
        minutes = int(str(raw).strip())
    except ValueError:
        return None
    return timedelta(minutes=minutes) if 0 < minutes <= _MAX_TTL_MINUTES else None


def _collapse(text: str) -> str:
    return " ".join(text.split())


# --- HTML -> paragraphs ---------------------------------------------------------------------

_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "caption", "dd", "details", "div",
        "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3",
        "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section",
        "summary", "table", "tbody", "thead", "tfoot", "tr", "ul",
    }
)
_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template", "head", "title"})


class _TextCollector(HTMLParser):
    """Text of an HTML fragment, a line break at every block boundary."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def _html_paragraphs(fragment: str) -> list[str]:
    collector = _TextCollector()
    collector.feed(fragment)
    collector.close()
    lines = (_collapse(line) for line in "".join(collector.parts).split("\n"))
    return [line for line in lines if line]
