"""parse_feed on small hand-written documents: conversion, errors, encodings."""

from __future__ import annotations

import codecs
import pickle
from datetime import UTC, datetime, timedelta

import pytest

from watcher.errors import ParseError
from watcher.feeds import parse_feed
from watcher.types import ParsedFeed

URL = "https://news.example.com/world/rss.xml"


def rss(items: str, channel: str = "<title>World</title><link>https://news.example.com/</link>",
        decl: str = '<?xml version="1.0" encoding="utf-8"?>') -> str:
    return (
        f'{decl}\n<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        f' xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>{channel}{items}</channel></rss>'
    )


def parse(doc: str | bytes, content_type: str = "application/rss+xml") -> ParsedFeed:
    data = doc.encode("utf-8") if isinstance(doc, str) else doc
    return parse_feed(data, {"Content-Type": content_type}, URL)


def test_rss_item_becomes_a_feed_entry() -> None:
    feed = parse(rss(
        "<item><title>MI6 chief &lt;b&gt;urges&lt;/b&gt; Russians   to spy</title>"
        "<link>/news/mi6-1.html</link><guid isPermaLink='false'>urn:x:1</guid>"
        "<description>&lt;p&gt;Sir Richard &amp;amp; the&amp;nbsp;door&lt;/p&gt;</description>"
        "<pubDate>Wed, 19 Jul 2023 16:15:00 +0100</pubDate><dc:creator>Kim Sengupta</dc:creator>"
        "<content:encoded><![CDATA[<p>One.</p><div>Two <b>bold</b><br>Three</div>"
        "<script>evil()</script><ul><li>Four</li></ul>]]></content:encoded></item>",
        channel="<title>World &amp; more</title><link>/</link><ttl>30</ttl>",
    ))
    assert feed.title == "World & more"
    assert feed.site_url == "https://news.example.com/"
    assert feed.ttl == timedelta(minutes=30)
    assert feed.warning is None
    (entry,) = feed.entries
    assert entry.entry_id == "urn:x:1"
    assert entry.url == "https://news.example.com/news/mi6-1.html"
    assert entry.title == "MI6 chief urges Russians to spy"
    assert entry.summary == "Sir Richard & the door"
    assert entry.content == "One.\nTwo bold\nThree\nFour"
    assert entry.published == datetime(2023, 7, 19, 15, 15, tzinfo=UTC)
    assert entry.author == "Kim Sengupta"


def test_entry_id_falls_back_to_link_then_to_a_hash() -> None:
    feed = parse(rss(
        "<item><title>A</title><link>https://news.example.com/a</link></item>"
        "<item><title>B</title><pubDate>Wed, 19 Jul 2023 16:15:00 GMT</pubDate></item>"
        "<item><title>B</title><pubDate>Thu, 20 Jul 2023 16:15:00 GMT</pubDate></item>"
    ))
    first, second, third = feed.entries
    assert first.entry_id == "https://news.example.com/a"
    assert second.entry_id.startswith("sha256:") and len(second.entry_id) == 39
    assert second.entry_id != third.entry_id
    assert second.url == ""


def test_published_falls_back_to_updated_and_is_utc() -> None:
    feed = parse(
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>'
        '<entry><id>tag:x,2023:1</id><title>T</title><link href="https://e.com/1"/>'
        "<updated>2023-07-19T11:15:00-04:00</updated></entry>"
        "<entry><id>tag:x,2023:2</id><title>U</title></entry></feed>",
        "application/atom+xml",
    )
    assert feed.entries[0].published == datetime(2023, 7, 19, 15, 15, tzinfo=UTC)
    assert feed.entries[1].published is None


def test_duplicate_items_are_given_once() -> None:
    item = "<item><guid>g1</guid><title>A</title><link>https://e.com/a</link></item>"
    assert len(parse(rss(item * 3)).entries) == 1


def test_only_http_links_are_kept() -> None:
    feed = parse(rss("<item><guid>g</guid><title>A</title><link>javascript:alert(1)</link></item>"))
    assert feed.entries[0].url == ""


@pytest.mark.parametrize("ttl", ["", "abc", "-5", "0", "99999999999999999999"])
def test_unusable_ttl_is_none(ttl: str) -> None:
    feed = parse(rss("<item><guid>g</guid></item>", f"<title>x</title><ttl>{ttl}</ttl>"))
    assert feed.ttl is None


def test_well_formed_feed_without_items_is_an_empty_feed() -> None:
    feed = parse(rss(""))
    assert feed.entries == () and feed.title == "World"


def test_bozo_feed_with_entries_is_used_with_a_warning() -> None:
    feed = parse(rss("<item><title>A&nbsp;B</title><link>https://e.com/a</link></item>"))
    assert [e.title for e in feed.entries] == ["A B"]
    assert feed.warning is not None and "undefined entity" in feed.warning


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty response body"),
        (b" \n ", "empty response body"),
        (b"<rss><channel><title>x</ti", "malformed feed, no entries could be read: line 1"),
        (b'<?xml version="1.0"?><catalog><book/></catalog>', "not a feed: <catalog>"),
        (b"just some text", "not a feed: no root element"),
        (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "b">', "unterminated DOCTYPE"),
    ],
)
def test_unusable_documents_raise_parse_error(body: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse(body)


def test_html_page_names_the_feeds_it_advertises() -> None:
    page = (
        "<!DOCTYPE html><html><head><title>News</title>"
        '<link rel="stylesheet" href="/s.css">'
        '<link rel="alternate" type="application/rss+xml" title="World" href="/world/rss">'
        '<link rel="Alternate" type="application/atom+xml" href="https://feeds.example.org/a">'
        '<link rel="alternate" type="application/rss+xml" href="/world/rss">'
        '<link rel="alternate" hreflang="fr" href="/fr/">'
        "</head><body><p>Hello</p></body></html>"
    )
    with pytest.raises(ParseError) as caught:
        parse(page, "text/html; charset=utf-8")
    assert str(caught.value) == (
        "an HTML page, not a feed; the page advertises: "
        "https://news.example.com/world/rss, https://feeds.example.org/a"
    )


def test_html_page_without_feed_links_says_so() -> None:
    with pytest.raises(ParseError, match="advertises no RSS, Atom or JSON feed"):
        parse("<html><body>Not found</body></html>", "text/html")


def test_html_fragment_served_as_html_is_recognised() -> None:
    page = ('<div><link rel="alternate" type="application/rss+xml" href="feed.xml">'
            "<p>x</p></div>")
    with pytest.raises(ParseError, match=r"advertises: https://news.example.com/world/feed.xml"):
        parse(page, "text/html")


def test_html_base_href_is_honoured() -> None:
    page = ('<html><head><base href="https://cdn.example.net/site/">'
            '<link rel="alternate" type="application/atom+xml" href="atom.xml"></head></html>')
    with pytest.raises(ParseError, match=r"https://cdn.example.net/site/atom.xml"):
        parse(page, "text/html")


def test_result_is_picklable_for_the_worker_pool() -> None:
    feed = parse(rss("<item><guid>g</guid><title>A</title><pubDate>Wed, 19 Jul 2023 16:15:00 GMT"
                     "</pubDate></item>"))
    assert pickle.loads(pickle.dumps(feed)) == feed
    assert pickle.loads(pickle.dumps(parse_feed)) is parse_feed


def test_a_string_that_looks_like_a_path_or_url_is_just_bytes() -> None:
    # feedparser would open a path or fetch a URL given as a string; we hand it a stream.
    with pytest.raises(ParseError, match="not a feed"):
        parse(b"/etc/passwd")
    with pytest.raises(ParseError, match="not a feed"):
        parse(b"http://127.0.0.1:1/feed.xml")


def test_headers_are_case_insensitive_and_content_location_is_the_base() -> None:
    doc = rss("<item><guid>g</guid><link>a.html</link></item>").encode()
    feed = parse_feed(doc, {"CONTENT-LOCATION": "https://mirror.example.org/x/feed"}, URL)
    assert feed.entries[0].url == "https://mirror.example.org/x/a.html"


# --- encodings: BOM > HTTP charset > XML declaration > UTF-8, as browsers read them ------

TITLE = "Café – “MI6” ‘quoted’ €5"
CYRILLIC = "Пригожин и ЧВК Вагнер: мятеж"


def encoded_feed(title: str, codec: str, declared: str | None) -> bytes:
    decl = f'<?xml version="1.0" encoding="{declared}"?>' if declared else ""
    body = (f'{decl}<rss version="2.0"><channel><title>t</title><item><guid>g</guid>'
            f"<title>{title}</title></item></channel></rss>")
    return body.encode(codec)


@pytest.mark.parametrize(
    ("data", "content_type", "expected", "note"),
    [
        # the HTTP charset beats the XML declaration
        (encoded_feed(CYRILLIC, "koi8-r", "utf-8"), "application/xml; charset=KOI8-R", CYRILLIC,
         None),
        (encoded_feed(TITLE, "cp1252", "utf-8"), "text/xml; charset=windows-1252", TITLE, None),
        # without a charset the declaration counts, for text/xml too (RFC 3023 said ASCII)
        (encoded_feed(CYRILLIC, "cp1251", "windows-1251"), "text/xml", CYRILLIC, None),
        (encoded_feed(TITLE, "cp1252", "iso-8859-1"), "application/rss+xml", TITLE, None),
        # a BOM beats both
        (codecs.BOM_UTF8 + encoded_feed(TITLE, "utf-8", "iso-8859-1"),
         "text/xml; charset=iso-8859-1", TITLE, None),
        (encoded_feed(TITLE, "utf-16", "utf-16"), "text/xml; charset=iso-8859-1", TITLE, None),
        (encoded_feed(TITLE, "utf-16-be", "utf-16"), "application/xml", TITLE, None),  # sniffed
        (encoded_feed(TITLE, "utf-32-le", None), "application/xml", TITLE, None),
        # nothing declared: UTF-8
        (encoded_feed(TITLE, "utf-8", None), "", TITLE, None),
        # mislabelled UTF-8 (the commonest server default) is read as UTF-8, not as mojibake
        (encoded_feed(TITLE, "utf-8", None), "text/xml; charset=ISO-8859-1", TITLE,
         "bytes are UTF-8"),
        (encoded_feed(TITLE, "utf-8", "windows-1252"), "application/xml", TITLE,
         "bytes are UTF-8"),
        # labelled UTF-8 but Latin-1 bytes: the declared codec fails, the bytes are not UTF-8
        (encoded_feed("Café", "latin-1", None), "application/xml", "Café",
         "read as cp1252"),
        (encoded_feed(CYRILLIC, "cp1251", None), "application/xml", CYRILLIC,
         "read as cp1251"),
        # an unknown label is ignored
        (encoded_feed(TITLE, "utf-8", "x-no-such-charset"), "text/xml; charset=bogus", TITLE,
         None),
        # charset quoted and oddly cased
        (encoded_feed(CYRILLIC, "koi8-r", None), 'Application/XML; Charset="koi8-r"', CYRILLIC,
         None),
    ],
)
def test_encodings_are_resolved_as_browsers_do(
    data: bytes, content_type: str, expected: str, note: str | None
) -> None:
    feed = parse_feed(data, {"Content-Type": content_type} if content_type else {}, URL)
    assert feed.entries[0].title == expected
    if note is None:
        assert feed.warning is None
    else:
        assert feed.warning is not None and note in feed.warning


def test_invalid_bytes_become_replacement_characters_not_mojibake() -> None:
    data = encoded_feed("Café", "utf-8", None).replace("é".encode(), "é".encode() + b"\xc3")
    feed = parse_feed(data, {"Content-Type": "application/xml; charset=utf-8"}, URL)
    assert feed.entries[0].title == "Café\ufffd"
    assert feed.warning is not None and "U+FFFD" in feed.warning
