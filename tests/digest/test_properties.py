"""Issue 17 §3: generated hostile articles through digest building, the three renderers and
the email serialisation. Nothing raises; the email parses under ``email.policy.strict``
without defects; Slack payloads stay within Block Kit's limits and load as slack_sdk's
Block Kit models; the HTML carries no markup from the article.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes, policy
from html.parser import HTMLParser
from typing import Literal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block

from watcher.digest import BuildSpec, Candidate, FeedNotice, build_digest
from watcher.digest.model import digest_from_json, digest_to_json
from watcher.digest.slack import MAX_BLOCKS, MAX_HEADER_TEXT, MAX_SECTION_TEXT
from watcher.notify.message import build_email, outgoing

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
RULES = ("spies", "wagner")

# Text a feed or a page can carry, and that has broken renderers elsewhere.
HOSTILE = [
    "", " ", "\t\n\r \u00a0\u2028\u2029", "\x00", "NUL\x00inside", "\x1b[31mred\x1b[0m",
    "\ud800 lone high", "lone low \udfff", "\u202eevil\u202c \u2066isolate\u2069",
    "<script>alert(1)</script>", "<b>bold</b> & <i>it</i>", "<!-- c --><img src=x onerror=y>",
    "<!channel> <!here> <@U123> <#C1|general> <https://evil.example|bank>",
    "*pwn* _it_ ~gone~ `code` ```block``` :skull: &gt; &amp;",
    "Bcc: victim@example.org\r\nSubject: x", "=?utf-8?q?encoded?=", "MI6 Wagner",
    "x" * 100_000, "MI6 " * 25_000, "\u0301\u0301 combining", "😀" * 50, "\r", "\ufeffBOM",
]
offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes)))
any_datetime = st.one_of(
    st.sampled_from([datetime.min, datetime.max, datetime.min.replace(tzinfo=UTC),
                     datetime.max.replace(tzinfo=UTC),
                     datetime.min.replace(tzinfo=timezone(timedelta(hours=14))),
                     datetime.max.replace(tzinfo=timezone(timedelta(hours=-12)))]),
    st.datetimes(timezones=st.none() | offsets))
hostile_text = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=60),
                         st.lists(st.sampled_from(HOSTILE), max_size=4).map("".join))


@st.composite
def candidates(draw: st.DrawFn, number: int) -> Candidate:
    title = draw(hostile_text)
    body = draw(hostile_text)
    description = draw(hostile_text)
    site = draw(st.sampled_from(["example.org", "a.example", draw(hostile_text)[:40]]))
    rules = tuple(draw(st.lists(st.sampled_from([*RULES, "gone"]), min_size=1, max_size=3,
                                unique=True)))
    fields = {"title": title, "body": body, "summary": description}
    hits = []
    for _ in range(draw(st.integers(0, 3))):
        field = draw(st.sampled_from([*fields, "url"]))
        size = len(fields.get(field, ""))
        start = draw(st.integers(0, size + 5))
        end = draw(st.integers(start, start + 12))
        hits.append((field, start, end, draw(st.sampled_from(["MI6", "Wagner", "x"]))))
    url = draw(st.sampled_from([f"https://example.org/{number}", "javascript:alert(1)",
                                f"https://example.org/{number}?a=<b>&c=\"d\"|e",
                                "data:text/html,<b>x</b>", ""]))
    return Candidate(number=number, url=url, title=title, site=site, feed="f",
                     published=draw(st.none() | any_datetime), fetched=draw(any_datetime),
                     text_source=draw(st.sampled_from(["page", "feed", "partial"])),
                     description=description, body=body, rules=rules, hits=tuple(hits))


@st.composite
def digest_inputs(draw: st.DrawFn) -> tuple[BuildSpec, list[Candidate], list[FeedNotice], int]:
    found = [draw(candidates(n)) for n in range(1, draw(st.integers(0, 6)) + 1)]
    kind: Literal["digest", "alert"] = "alert" if draw(st.booleans()) else "digest"
    spec = BuildSpec(name=draw(st.sampled_from(["morning", "night shift"])),
                     timezone=draw(st.sampled_from(["Europe/London", "Pacific/Kiritimati",
                                                    "Etc/GMT+12", "UTC"])),
                     since=NOW - timedelta(days=1), until=NOW, rule_order=RULES, kind=kind)
    notices = [FeedNotice(draw(hostile_text)[:50], draw(hostile_text)[:200])
               for _ in range(draw(st.integers(0, 2)))]
    return spec, found, notices, draw(st.integers(0, 3))


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attrs: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attrs.update(name for name, _ in attrs)
        self.hrefs.extend(value or "" for name, value in attrs if name == "href")


# What the templates themselves write: anything else came from an article.
TEMPLATE_TAGS = {"html", "head", "meta", "title", "body", "div", "h1", "h2", "p", "a", "span",
                 "strong", "ul", "li"}
TEMPLATE_ATTRS = {"lang", "charset", "name", "content", "class", "style", "href"}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.data_too_large])
@given(digest_inputs())
def test_no_generated_article_breaks_a_digest(
        inputs: tuple[BuildSpec, list[Candidate], list[FeedNotice], int]) -> None:
    spec, found, notices, more = inputs
    digest = build_digest(spec, found, notices=notices, more=more)
    # The outbox stores the digest as JSON and renders what it reads back.
    stored = digest_from_json(json.loads(json.dumps(digest_to_json(digest))))
    message = outgoing("digest:morning@2026-11-23T07:00:00+00:00", stored, NOW)
    assert message.omitted == ()  # nothing generated here is unrenderable

    mail = build_email(message, "watcher@example.org", ("analyst@example.org",))
    parsed = message_from_bytes(mail.as_bytes(), policy=policy.strict)
    assert not parsed.defects
    for part in parsed.walk():
        assert not part.defects
    assert "\n" not in str(parsed["Subject"]) and "\r" not in str(parsed["Subject"])
    text = parsed.get_body(("plain",))
    assert text is not None and text.get_content().replace("\r\n", "\n") == message.text

    tags = _Tags()
    tags.feed(message.html)
    assert tags.tags <= TEMPLATE_TAGS, tags.tags - TEMPLATE_TAGS
    assert tags.attrs <= TEMPLATE_ATTRS, tags.attrs - TEMPLATE_ATTRS
    assert all(href.startswith(("https://", "http://")) for href in tags.hrefs), tags.hrefs

    for payload in message.slack:
        json.dumps(payload, ensure_ascii=False).encode("utf-8")  # what httpx sends
        blocks = payload["blocks"]
        assert isinstance(blocks, list) and 1 <= len(blocks) <= MAX_BLOCKS
        assert len(blocks[0]["text"]["text"]) <= MAX_HEADER_TEXT
        for block in blocks:
            text_field = block.get("text") or {}
            assert len(text_field.get("text", "")) <= MAX_SECTION_TEXT
            slack_block = Block.parse(block)
            assert slack_block is not None
            slack_block.validate_json()  # raises SlackObjectFormationError
        assert "<!channel>" not in json.dumps(payload) and "<@U123>" not in json.dumps(payload)

    for item in (i for s in stored.sections for i in s.items):
        assert "\n" not in item.title and "\r" not in item.title
        assert item.published.tzinfo is not None
