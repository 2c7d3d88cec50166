"""Slack Block Kit payloads for an incoming webhook. Pure.

Every piece of feed text goes through ``mrkdwn_escape`` (``&``, ``<``, ``>``): Slack reads
``<!channel>``, ``<@U123>`` and ``<url|label>`` only from unescaped angle brackets, so an
escaped title can neither ping a channel nor disguise a link. Formatting markers (``*``,
``_``, ``~``, backticks) and ``:emoji:`` codes get a zero-width space on each side, so a
title's ``*pwn*`` shows as written instead of bold.

Slack's limits (Block Kit reference): 50 blocks per message, 3000 characters of text per
section, 150 characters of plain text in a header. A digest is split into as many messages
as it needs; a rule's items are packed into sections below 3000 characters; long titles and
sentences are cut first so one item always fits one section.
"""

from __future__ import annotations

import re
from typing import Any

from watcher.digest.model import Digest, DigestItem
from watcher.digest.present import (
    Omission,
    item_meta,
    legacy_also,
    local_time,
    plural,
    render_each,
    safe_url,
    shown_versions,
    subject,
    version_meta,
)
from watcher.digest.recheck import dropped_note

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
# Slack also rejects messages whose blocks are long in total (msg_blocks_too_long, seen
# near 13,000 characters): stay well below.
MAX_MESSAGE_TEXT = 10_000
MAX_TITLE = 250
MAX_SENTENCE = 600
MAX_VERSION_TITLE = 150

Block = dict[str, Any]


_ZWSP = "\u200b"
# Slack's formatting markers, and the colon that opens an :emoji: code. mrkdwn has no escape
# character; a zero-width space beside a marker keeps it from pairing with the next one, so
# the text shows as written (``*pwn*`` stays "*pwn*", not bold).
_MARKERS = re.compile(r"[*_~`]|:(?=[\w+-]+:)")


def _angles(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn_escape(text: str) -> str:
    """Feed text as literal mrkdwn: no link, mention, formatting or emoji code."""
    return _MARKERS.sub(lambda m: f"{_ZWSP}{m.group()}{_ZWSP}", _angles(text))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def link(url: str, label: str) -> str:
    """``<url|label>`` for an http(s) URL; the label alone otherwise."""
    href = safe_url(url)
    if href is None:
        return mrkdwn_escape(label)
    # Inside <...> a "|" would end the URL and a ">" the link; neither belongs in a URL raw.
    href = _angles(href.replace("|", "%7C"))
    return f"<{href}|{mrkdwn_escape(label)}>"


def _sentence(item: DigestItem) -> str:
    out: list[str] = []
    used = 0
    for piece, hit in item.snippet.parts():
        piece = _cut(piece, max(1, MAX_SENTENCE - used))
        used += len(piece)
        # Bold needs the asterisks against the word; spaces inside the match stay inside.
        text = mrkdwn_escape(piece)
        out.append(f"*{text.strip()}*" if hit and text.strip() else text)
        if used >= MAX_SENTENCE:
            break
    return "".join(out)


def item_text(item: DigestItem, timezone: str) -> str:
    lines = [f"• {link(item.url, _cut(item.title, MAX_TITLE))}",
             f"   {mrkdwn_escape(item_meta(item, timezone))}"]
    if item.snippet.text:
        lines.append(f"> {_sentence(item)}")
    if item.other_rules:
        lines.append(f"   _also matched: {mrkdwn_escape(', '.join(item.other_rules))}_")
    versions, more = shown_versions(item)
    for version in versions:
        lines.append(f"   ↳ {link(version.url, _cut(version.title, MAX_VERSION_TITLE))} · "
                     f"{mrkdwn_escape(version_meta(version, timezone))}")
    if more:
        lines.append(f"   ↳ and {more} more")
    if legacy_also(item):
        lines.append(f"   _also: {mrkdwn_escape(legacy_also(item))}_")
    return "\n".join(lines)


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def content_blocks(digest: Digest, omitted: list[Omission] | None = None) -> list[Block]:
    """Every block after the header, unsplit."""
    omitted = [] if omitted is None else omitted
    tz = digest.timezone
    blocks: list[Block] = [{"type": "context", "elements": [
        {"type": "mrkdwn", "text": mrkdwn_escape(f"Up to {local_time(digest.generated, tz)}")}]}]
    if digest.more:
        blocks.append(_section(mrkdwn_escape(
            f"{plural(digest.more, 'further match')} in this window, not listed.")))
    if digest.dropped:
        blocks.append(_section(mrkdwn_escape(dropped_note(digest.dropped))))
    for section in digest.sections:
        blocks.append({"type": "divider"})
        head = f"*{mrkdwn_escape(section.rule)}* ({plural(len(section.items), 'article')})"
        text = head
        for found in render_each(section.items, lambda i: item_text(i, tz), "slack", omitted):
            entry = f"• _{found.line()}_" if isinstance(found, Omission) else found
            if len(text) + 2 + len(entry) > MAX_SECTION_TEXT:
                blocks.append(_section(text))
                text = f"*{mrkdwn_escape(section.rule)}* (continued)"
            text += "\n\n" + entry
        blocks.append(_section(text))
    if digest.notices:
        blocks.append({"type": "divider"})
        text = "*Feed notices*"
        for notice in digest.notices:
            entry = "• " + mrkdwn_escape(_cut(f"{notice.feed}: {' '.join(notice.message.split())}",
                                               500))
            if len(text) + 1 + len(entry) > MAX_SECTION_TEXT:
                blocks.append(_section(text))
                text = "*Feed notices* (continued)"
            text += "\n" + entry
        blocks.append(_section(text))
    if not digest.sections and not digest.notices:
        blocks.append(_section("Nothing matched in this period."))
    return blocks


def _size(block: Block) -> int:
    text = block.get("text")
    if isinstance(text, dict):
        return len(str(text.get("text", "")))
    return sum(len(str(e.get("text", ""))) for e in block.get("elements", []))


def render_slack(digest: Digest, omitted: list[Omission] | None = None
                 ) -> tuple[dict[str, Any], ...]:
    """Webhook payloads: ``{"text": fallback, "blocks": [...]}``, one per message."""
    title = subject(digest)
    pages: list[list[Block]] = [[]]
    used = 0
    for block in content_blocks(digest, omitted):
        # One slot per message is kept for the header.
        if len(pages[-1]) >= MAX_BLOCKS - 1 or used + _size(block) > MAX_MESSAGE_TEXT:
            pages.append([])
            used = 0
        pages[-1].append(block)
        used += _size(block)
    payloads: list[dict[str, Any]] = []
    for number, page in enumerate(pages, 1):
        label = title if len(pages) == 1 else f"{title} ({number}/{len(pages)})"
        header: Block = {"type": "header",
                         "text": {"type": "plain_text", "text": _cut(label, MAX_HEADER_TEXT)}}
        payloads.append({"text": mrkdwn_escape(label), "blocks": [header, *page]})
    return tuple(payloads)
