"""Hostile feed documents: entity expansion, external entities, the author ReDoS, garbage.

Whether anything was read or requested is observed from outside the parser: an audit hook
records every file open, URL request and socket connect made while a document is parsed,
and a real listener on loopback must see no connection.
"""

from __future__ import annotations

import contextlib
import io
import socket
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.feeds import hostile_feeds as hostile
from watcher.errors import ParseError
from watcher.feeds import MAX_AUTHOR_CHARS, parse_feed
from watcher.types import ParsedFeed

URL = "https://hostile.example/feed.xml"
HEADERS = {"content-type": "application/rss+xml"}

_events: list[tuple[str, tuple[Any, ...]]] | None = None  # recording when not None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _events is None or event not in ("open", "urllib.Request", "socket.connect"):
        return
    if event == "open" and str(args[0]).endswith((".py", ".pyc")):
        return  # a lazy import inside the standard library, not a read of the document's
    _events.append((event, args))


sys.addaudithook(_audit)  # hooks cannot be removed; this one is idle unless recording


def parse_watched(data: bytes) -> tuple[ParsedFeed | ParseError, list[tuple[str, tuple[Any, ...]]]]:
    """parse_feed, and the opens/requests/connects it made."""
    global _events
    _events = []
    try:
        result: ParsedFeed | ParseError = parse_feed(data, HEADERS, URL)
    except ParseError as exc:
        result = exc
    finally:
        events, _events = _events, None
    return result, events


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback TCP listener; any connection attempt lands in its backlog."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        server.setblocking(False)
        yield server


def assert_no_connection(server: socket.socket) -> None:
    with pytest.raises(BlockingIOError):
        conn, _ = server.accept()
        conn.close()


@pytest.fixture
def sentinel(tmp_path: Path) -> Path:
    path = tmp_path / "sentinel.txt"
    path.write_text("SENTINEL-5f0c2a-must-never-be-read")
    return path


def only_entry_title(feed: ParsedFeed) -> str:
    (entry,) = feed.entries
    return entry.title


@pytest.mark.parametrize("one_line", [True, False])
def test_billion_laughs_is_not_expanded(one_line: bool) -> None:
    started = time.process_time()
    feed, events = parse_watched(hostile.billion_laughs(one_line=one_line))
    assert isinstance(feed, ParsedFeed)
    assert time.process_time() - started < 0.5  # expat's own limit would cost about 1 s
    assert "lollol" not in only_entry_title(feed)
    assert feed.warning is not None and "entity declarations removed" in feed.warning
    assert events == []


def test_quadratic_blowup_is_not_expanded() -> None:
    feed, _ = parse_watched(hostile.quadratic_blowup())
    assert isinstance(feed, ParsedFeed)
    assert len(only_entry_title(feed)) < 20_000


@pytest.mark.parametrize("one_line", [True, False])
def test_external_file_entity_is_never_read(sentinel: Path, one_line: bool) -> None:
    feed, events = parse_watched(hostile.external_entity(sentinel.as_uri(), one_line=one_line))
    assert isinstance(feed, ParsedFeed)
    assert "SENTINEL" not in repr(feed)
    assert not [e for e in events if e[0] == "open" and str(sentinel) in str(e[1][0])]
    assert events == []


@pytest.mark.parametrize(
    "build",
    [hostile.external_entity, hostile.external_parameter_entity, hostile.external_dtd],
    ids=["general-entity", "parameter-entity", "external-dtd"],
)
def test_external_urls_on_loopback_get_no_request(listener: socket.socket, build: Any) -> None:
    port = listener.getsockname()[1]
    feed, events = parse_watched(build(f"http://127.0.0.1:{port}/evil.dtd"))
    assert isinstance(feed, ParsedFeed)
    assert events == []
    assert_no_connection(listener)


def test_doctype_after_the_root_is_inert(sentinel: Path) -> None:
    doc = (
        '<rss version="2.0"><!DOCTYPE x [<!ENTITY ext SYSTEM "' + sentinel.as_uri() + '">]>'
        "<channel><title>t</title><item><guid>g</guid><title>&ext;</title></item></channel></rss>"
    ).encode()
    result, events = parse_watched(doc)
    assert "SENTINEL" not in repr(result)
    assert events == []


def _raw_feedparser_seconds(data: bytes) -> float:
    # CPU time, not wall time: other work on a busy machine must not blur the ratio.
    started = time.process_time()
    feedparser.parse(io.BytesIO(data))
    return time.process_time() - started


def test_feedparser_author_regex_is_quadratic() -> None:
    """The fact the cap exists for: a word 4x longer makes feedparser about 16x slower.

    A linear parser would be 4x slower; 8x separates the two with a factor of 2 to spare for
    a busy machine. The sizes alternate, so a slow spell slows both.
    """
    small, large = [], []
    for _ in range(3):
        small.append(_raw_feedparser_seconds(hostile.author_redos(4_000)))
        large.append(_raw_feedparser_seconds(hostile.author_redos(16_000)))
    assert min(large) / min(small) > 8, (small, large)


@pytest.mark.parametrize(
    "data",
    [hostile.author_redos(2_000_000), hostile.author_redos_split(50_000)],
    ids=["one-word", "split-into-cdata-and-comments"],
)
def test_author_redos_input_parses_at_once(data: bytes) -> None:
    started = time.process_time()
    feed = parse_feed(data, HEADERS, URL)
    assert time.process_time() - started < 2.0  # unguarded: hours for the 2 MB word
    (entry,) = feed.entries
    assert entry.author == "a" * MAX_AUTHOR_CHARS
    assert feed.warning is not None and "author text" in feed.warning


def test_ordinary_authors_are_untouched() -> None:
    doc = (
        b'<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>t</title>'
        b"<managingEditor>desk@example.com (News Desk)</managingEditor>"
        b"<item><guid>1</guid><author>kim@example.com (Kim Sengupta)</author></item>"
        b"<item><guid>2</guid><dc:creator><![CDATA[Gordon Corera]]></dc:creator></item>"
        b"</channel></rss>"
    )
    feed = parse_feed(doc, HEADERS, URL)
    assert [e.author for e in feed.entries] == ["Kim Sengupta", "Gordon Corera"]
    assert feed.warning is None


@pytest.mark.parametrize(
    "data",
    [
        b"\x00" * 1000,
        b"<" * 100_000,
        b"<!--" * 50_000,
        b"<rss>" * 20_000,
        b"<?xml version='1.0'?>" + b"<a>" * 50_000,
        b"<!DOCTYPE " + b"[" * 50_000,
        b'<?xml version="1.0" encoding="x-unknown-charset"?><rss/>',
        b"\xff\xfe\x00\x00garbage",
        b"\xef\xbb\xbf",
        bytes(range(256)) * 50,
    ],
    ids=["nul", "lt", "comments", "unclosed-roots", "deep", "doctype-brackets",
         "unknown-charset", "utf32-bom", "bom-only", "all-bytes"],
)
def test_garbage_gives_parse_error_or_a_feed_quickly(data: bytes) -> None:
    started = time.process_time()
    with contextlib.suppress(ParseError):
        parse_feed(data, HEADERS, URL)
    assert time.process_time() - started < 3.0  # CPU seconds


# --- fuzzing: whatever the bytes, a ParsedFeed or a ParseError --------------------------

_SEED_RSS = (Path(__file__).parent.parent / "data" / "feeds" / "seed" / "independent-world.rss"
             ).read_bytes()


@st.composite
def damaged_feeds(draw: st.DrawFn) -> bytes:
    """The seed feed with a few slices cut out or replaced by hostile snippets."""
    data = _SEED_RSS
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, len(data)))
        end = draw(st.integers(start, min(len(data), start + 200)))
        insert = draw(st.one_of(
            st.binary(max_size=20),
            st.sampled_from([b"<!DOCTYPE x [<!ENTITY a 'b'>]>", b"&a;", b"<![CDATA[", b"]]>",
                             b"<author>", b"</item>", b"\xef\xbb\xbf", b"\x00", b"&#0;",
                             b'<?xml version="1.0" encoding="utf-16"?>', b"<html>"]),
        ))
        data = data[:start] + insert + data[end:]
    return data


@given(st.one_of(st.binary(max_size=300), damaged_feeds()),
       st.sampled_from(["", "text/xml", "application/rss+xml; charset=utf-16", "text/html"]))
@settings(max_examples=150, deadline=None)
def test_any_bytes_give_a_feed_or_a_parse_error(data: bytes, content_type: str) -> None:
    try:
        feed = parse_feed(data, {"content-type": content_type}, URL)
    except ParseError as exc:
        assert str(exc)
        return
    for entry in feed.entries:
        assert entry.entry_id
        assert entry.published is None or entry.published.utcoffset() == timedelta(0)
