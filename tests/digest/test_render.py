"""Golden files for the rendered digest. Regenerate after an intended change with

    WATCHER_UPDATE_GOLDEN=1 python -m pytest tests/digest/test_render.py

and review the diff of tests/data/golden/ like code.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.digest.fixtures import fixed_digest
from watcher.digest import render_all
from watcher.digest.model import Digest, DigestSection
from watcher.digest.slack import (
    MAX_BLOCKS,
    MAX_HEADER_TEXT,
    MAX_SECTION_TEXT,
    mrkdwn_escape,
    render_slack,
)
from watcher.rules.snippet import Snippet

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"
UPDATE = os.environ.get("WATCHER_UPDATE_GOLDEN") == "1"


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"missing golden {path}; run with WATCHER_UPDATE_GOLDEN=1"
    assert actual == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


@pytest.fixture(scope="module")
def rendered():  # type: ignore[no-untyped-def]
    return render_all(fixed_digest())


def test_golden_text(rendered) -> None:  # type: ignore[no-untyped-def]
    check_golden("digest.txt", rendered.text)


def test_golden_html(rendered) -> None:  # type: ignore[no-untyped-def]
    check_golden("digest.html", rendered.html)


def test_golden_slack(rendered) -> None:  # type: ignore[no-untyped-def]
    check_golden("digest.slack.json",
                 json.dumps(rendered.slack, indent=2, ensure_ascii=False) + "\n")


def test_subject(rendered) -> None:  # type: ignore[no-untyped-def]
    assert rendered.subject == "[watcher] morning: 3 articles, 2 rules, 1 feed notice"


def test_html_is_inert_and_inlined(rendered) -> None:  # type: ignore[no-untyped-def]
    html = rendered.html
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "<style" not in html and 'style="' in html  # css inlined for Gmail/Outlook
    assert 'name="viewport"' in html and "max-width: 640px" in html
    assert "<!channel>" not in html and "<b>" not in html
    assert '<strong class="term" style=' in html
    assert "partial text" in html


def test_text_keeps_hostile_title_on_one_line(rendered) -> None:  # type: ignore[no-untyped-def]
    lines = rendered.text.splitlines()
    assert not any(line.startswith("Bcc:") for line in lines)
    assert "\r" not in rendered.text


def test_slack_cannot_ping_or_disguise_links(rendered) -> None:  # type: ignore[no-untyped-def]
    raw = json.dumps(rendered.slack)
    # Every "<" left in a payload opens one of our own links to an http(s) URL.
    for payload in rendered.slack:
        for block in payload["blocks"]:
            text = json.dumps(block)
            for opened in re.findall(r"<([^>]*)>", text):
                assert opened.startswith("https://"), opened
    assert "&lt;!channel&gt;" in raw and "&lt;!here&gt;" in raw
    assert "*MI6*" in raw


def test_javascript_urls_are_never_linked() -> None:
    digest = fixed_digest()
    item = digest.sections[0].items[0]
    bad = Digest(**{**digest.__dict__, "sections": (DigestSection("r", (
        item.__class__(**{**item.__dict__, "url": "javascript:alert(1)"}),)),)})
    rendered = render_all(bad)
    assert 'href="javascript' not in rendered.html
    assert "<javascript" not in json.dumps(rendered.slack)


def test_slack_splits_within_limits() -> None:
    digest = fixed_digest()
    item = digest.sections[0].items[0]
    long_item = item.__class__(**{**item.__dict__, "title": "T" * 5000, "others": (),
                                  "snippet": Snippet("body", "S" * 5000, ((0, 10),))})
    many = tuple(DigestSection(f"rule-{n}", (long_item,) * 7) for n in range(30))
    big = Digest(**{**digest.__dict__, "name": "n" * 300, "sections": many})
    payloads = render_slack(big)
    assert len(payloads) > 1
    seen = 0
    for payload in payloads:
        blocks = payload["blocks"]
        assert len(blocks) <= MAX_BLOCKS
        assert blocks[0]["type"] == "header"
        assert len(blocks[0]["text"]["text"]) <= MAX_HEADER_TEXT
        for block in blocks:
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= MAX_SECTION_TEXT
        seen += sum(json.dumps(b).count("/news/") for b in blocks)
    assert seen == 30 * 7  # every item is in some message, once


def test_mrkdwn_escape() -> None:
    assert mrkdwn_escape("a & <!channel> <b|c>") == "a &amp; &lt;!channel&gt; &lt;b|c&gt;"


def test_slack_formatting_from_feeds_shows_as_written() -> None:
    """Issue 15 §6: ``*pwn*`` must not turn bold, nor ``:skull:`` into an emoji. Every
    marker is kept apart from the text by zero-width spaces; what a reader sees (the text
    without them) is exactly what the feed wrote."""
    written = "*pwn* _it_ ~gone~ `code` ```block``` :skull: at 07:00 <!here>"
    escaped = mrkdwn_escape(written)
    for pairable in ("*pwn*", "_it_", "~gone~", "`code`", ":skull:", "``"):
        assert pairable not in escaped
    assert escaped.replace("\u200b", "") == written.replace("<!here>", "&lt;!here&gt;")
    assert "07:00" in escaped  # a time is not an emoji code
    item = fixed_digest().sections[0].items[0]
    digest = Digest(**{**fixed_digest().__dict__, "sections": (DigestSection("r", (
        item.__class__(**{**item.__dict__, "title": written}),)),)})
    raw = json.dumps(render_slack(digest), ensure_ascii=False)
    assert "*pwn*" not in raw and ":skull:" not in raw and "<!here>" not in raw


def test_plural() -> None:
    from watcher.digest.present import plural

    assert [plural(1, "item"), plural(2, "item"), plural(0, "further match"),
            plural(3, "failed delivery"), plural(2, "day")] == [
        "1 item", "2 items", "0 further matches", "3 failed deliveries", "2 days"]
