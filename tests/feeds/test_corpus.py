"""Table-driven tests over feedparser's own corpus (tests/data/feeds/feedparser, BSD).

Every file must give a ``ParsedFeed`` or a ``ParseError`` (never another exception), with our
invariants: UTC dates, absolute http(s) links, one-line titles and summaries, clean content
lines, no mojibake. Where a file's ``Expect:`` line states a plain value of a field we carry
(feed title; an entry's title, link, id or summary), our value must match it.
"""

from __future__ import annotations

import ast
import codecs
import re
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import pytest

from watcher.errors import ParseError
from watcher.feeds import parse_feed
from watcher.types import ParsedFeed

CORPUS = Path(__file__).parent.parent / "data" / "feeds" / "feedparser"
FILES = sorted(CORPUS.rglob("*.xml"))
# feedparser's test server used this base; relative links in the corpus resolve against it.
BASE_URL = "http://127.0.0.1:8097/"

_HEADER = re.compile(rb"^Header:\s+([^:\r\n]+):(.+?)\s*$", re.MULTILINE)
_EXPECT = re.compile(rb"^Expect:\s+(.+?)\s*$", re.MULTILINE)
_NEEDS_CODEC = re.compile(
    rb"^SkipUnless:\s+__import__\('codecs'\)\.lookup\('([^']+)'\)", re.MULTILINE
)
# "[not bozo and ]<field> == <python string literal>", nothing else.
_SIMPLE_EXPECT = re.compile(
    r"""^(?:not bozo and )?(?P<where>feed|entries\[0\])"""
    r"""(?:\[['"](?P<key1>\w+)['"]\]|\.(?P<key2>\w+))\s*==\s*"""
    r"""(?P<value>u?(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"))$"""
)
# feedparser key -> how to read our value
_FIELDS = {
    ("feed", "title"): lambda f: f.title,
    ("entries[0]", "title"): lambda f: f.entries[0].title,
    ("entries[0]", "link"): lambda f: f.entries[0].url,
    ("entries[0]", "id"): lambda f: f.entries[0].entry_id,
    ("entries[0]", "summary"): lambda f: f.entries[0].summary,
    ("entries[0]", "description"): lambda f: f.entries[0].summary,
}
# Signs of text decoded with the wrong charset (UTF-8 read as Latin-1/windows-1252).
_MOJIBAKE = re.compile("Ã[\u0080-\u00bf]|â€")


@dataclass(frozen=True)
class Case:
    path: Path
    headers: dict[str, str]
    expect: str

    @property
    def id(self) -> str:
        return str(self.path.relative_to(CORPUS))


def load(path: Path) -> Case:
    data = path.read_bytes()
    # The comments are ASCII in every encoding but UTF-16/32 and EBCDIC; those carry no
    # headers we need, and an unreadable Expect line just means "invariants only".
    headers = {k.decode().strip(): v.decode().strip() for k, v in _HEADER.findall(data)}
    found = _EXPECT.search(data)
    expect = found.group(1).decode("ascii", "replace") if found else ""
    needs = _NEEDS_CODEC.search(data)
    if needs and not _known_codec(needs.group(1).decode()):
        expect = ""  # feedparser skips these where Python lacks the codec; so do we
    return Case(path, headers, expect)


def _known_codec(label: str) -> bool:
    try:
        codecs.lookup(label)
    except LookupError:
        return False
    return True


CASES = [load(p) for p in FILES]


def test_the_corpus_is_there() -> None:
    assert len(CASES) > 200
    assert (CORPUS / "LICENSE").is_file()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_parses_to_a_feed_or_a_clear_error(case: Case) -> None:
    try:
        feed = parse_feed(case.path.read_bytes(), case.headers, BASE_URL + case.id)
    except ParseError as exc:
        assert str(exc), "a ParseError must say why"
        return
    check_invariants(feed)
    check_expectation(case, feed)


def check_invariants(feed: ParsedFeed) -> None:
    texts = [feed.title]
    for entry in feed.entries:
        assert entry.entry_id
        assert entry.url == "" or entry.url.startswith(("http://", "https://"))
        assert entry.published is None or entry.published.tzinfo is UTC
        for one_line in (entry.title, entry.summary, entry.author):
            assert "\n" not in one_line and one_line == one_line.strip()
        assert all(line and line == line.strip() for line in entry.content.split("\n")
                   if entry.content)
        texts += [entry.title, entry.summary, entry.content, entry.author]
    for text in texts:
        assert not _MOJIBAKE.search(text), text
    assert feed.warning is None or feed.warning.strip()


def check_expectation(case: Case, feed: ParsedFeed) -> None:
    simple = _SIMPLE_EXPECT.match(case.expect)
    if simple is None:
        return
    key = simple["key1"] or simple["key2"]
    read = _FIELDS.get((simple["where"], key))
    if read is None or (simple["where"] != "feed" and not feed.entries):
        return
    expected = ast.literal_eval(simple["value"])
    if not isinstance(expected, str) or expected != " ".join(expected.split()):
        return  # markup or layout we deliberately flatten: invariants only
    if "<" in expected or "&" in expected or (key == "link" and not expected.startswith("http")):
        return
    assert read(feed) == expected
