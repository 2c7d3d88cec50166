"""Rendering a fixed digest: subject, plain text and HTML (email, file channel, preview).

Pure. HTML comes from a Jinja2 template with autoescape on, then css_inline moves the
stylesheet into ``style`` attributes because Gmail and Outlook drop ``<style>`` blocks in
many views. The layout is one fluid column (max 640 px) so it reads at 375 px.
Slack has its own renderer (``slack.py``): its markup and limits differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import css_inline
from jinja2 import Environment, PackageLoader, select_autoescape

from watcher.digest.model import Digest, DigestItem

TIME_FORMAT = "%a %d %b %Y %H:%M %Z"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    slack: tuple[dict[str, Any], ...]  # webhook payloads, one per message


def plural(n: int, word: str) -> str:
    if n == 1:
        return f"{n} {word}"
    if word.endswith("y") and word[-2:-1] not in ("a", "e", "i", "o", "u"):
        return f"{n} {word[:-1]}ies"
    return f"{n} {word}es" if word.endswith(("s", "ch", "sh", "x")) else f"{n} {word}s"


def subject(digest: Digest) -> str:
    """``[watcher] morning: 7 articles, 3 rules``. Built from config names and counts only."""
    name = " ".join(digest.name.split())
    if digest.kind == "alert":
        more = f" (+{digest.more} more)" if digest.more else ""
        return f"[watcher] alert {name}: {plural(digest.item_count, 'article')}{more}"
    rules = len(digest.sections)
    head = f"[watcher] {name}: {plural(digest.item_count, 'article')}, {plural(rules, 'rule')}"
    if digest.notices:
        head += f", {plural(len(digest.notices), 'feed notice')}"
    return head


def local_time(value: datetime, timezone: str) -> str:
    return value.astimezone(ZoneInfo(timezone)).strftime(TIME_FORMAT)


def safe_url(url: str) -> str | None:
    """The URL when it is http(s); anything else (javascript:, data:) is never linked."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in ("http", "https") else None


def also_text(item: DigestItem) -> str:
    parts = list(item.also)
    if item.versions:
        parts.append(plural(item.versions, "other version"))
    return ", ".join(parts)


def item_meta(item: DigestItem, timezone: str) -> str:
    meta = [item.outlet, local_time(item.published, timezone)]
    if item.partial:
        meta.append("partial text")
    return " · ".join(meta)


def render_text(digest: Digest) -> str:
    tz = digest.timezone
    lines = [subject(digest), f"Up to {local_time(digest.generated, tz)}", ""]
    if digest.more:
        lines += [f"{plural(digest.more, 'further match')} in this window, not listed.", ""]
    for section in digest.sections:
        lines.append(f"== {section.rule} ({plural(len(section.items), 'article')}) ==")
        lines.append("")
        for item in section.items:
            lines.append(f"* {item.title}")
            lines.append(f"  {item_meta(item, tz)}")
            lines.append(f"  {item.url}")
            if item.snippet.text:
                quoted = "".join(f"*{p}*" if hit else p for p, hit in item.snippet.parts())
                lines.append(f"  “{quoted}”")
            lines.append(f"  rules: {', '.join(item.rules)}")
            if also_text(item):
                lines.append(f"  also: {also_text(item)}")
            lines.append("")
    if digest.notices:
        lines.append("== Feed notices ==")
        lines += [f"- {n.feed}: {' '.join(n.message.split())}" for n in digest.notices]
        lines.append("")
    if not digest.sections and not digest.notices:
        lines += ["Nothing matched in this period.", ""]
    return "\n".join(lines)


@cache
def _environment() -> Environment:
    env = Environment(loader=PackageLoader("watcher", "templates"),
                      autoescape=select_autoescape(["html", "j2"], default=True),
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["local_time"] = local_time
    env.globals.update(safe_url=safe_url, also_text=also_text, plural=plural)
    return env


# Never fetch a stylesheet while rendering (the template has none to fetch; feed text is
# escaped), and keep nothing but inline styles.
_INLINER = css_inline.CSSInliner(load_remote_stylesheets=False, keep_style_tags=False,
                                 keep_link_tags=False)


def render_html(digest: Digest) -> str:
    html = _environment().get_template("digest.html.j2").render(
        digest=digest, subject=subject(digest))
    return _INLINER.inline(html)


def render_all(digest: Digest) -> Rendered:
    from watcher.digest.slack import render_slack  # slack.py imports helpers from here

    return Rendered(subject=subject(digest), text=render_text(digest),
                    html=render_html(digest), slack=render_slack(digest))
