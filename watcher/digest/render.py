"""Rendering a fixed digest: subject, plain text and HTML (email, file channel, preview).

Pure. HTML comes from Jinja2 templates with autoescape on, then css_inline moves the
stylesheet into ``style`` attributes because Gmail and Outlook drop ``<style>`` blocks in
many views. The layout is one fluid column (max 640 px) so it reads at 375 px.
Slack has its own renderer (``slack.py``): its markup and limits differ. Each item is
rendered on its own (``present.render_each``): one that fails is left out with a line
saying so, and the message goes out with the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

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
from watcher.digest.slack import render_slack

if TYPE_CHECKING:
    import css_inline
    from jinja2 import Environment


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    slack: tuple[dict[str, Any], ...]  # webhook payloads, one per message
    omitted: tuple[Omission, ...] = ()  # items left out of a channel's message


def _item_lines(item: DigestItem, tz: str) -> list[str]:
    lines = [f"* {item.title}", f"  {item_meta(item, tz)}", f"  {item.url}"]
    if item.snippet.text:
        quoted = "".join(f"*{p}*" if hit else p for p, hit in item.snippet.parts())
        lines.append(f"  “{quoted}”")
    if item.other_rules:
        lines.append(f"  also matched: {', '.join(item.other_rules)}")
    versions, more = shown_versions(item)
    if versions:
        lines.append(f"  {plural(len(item.others), 'other version')}:")
        for version in versions:
            lines.append(f"  - {version.title}")
            lines.append(f"    {version_meta(version, tz)}  {version.url}")
        if more:
            lines.append(f"  - and {more} more")
    if legacy_also(item):
        lines.append(f"  also: {legacy_also(item)}")
    return lines


def render_text(digest: Digest, omitted: list[Omission] | None = None) -> str:
    omitted = [] if omitted is None else omitted
    tz = digest.timezone
    lines = [subject(digest), f"Up to {local_time(digest.generated, tz)}", ""]
    if digest.more:
        lines += [f"{plural(digest.more, 'further match')} in this window, not listed.", ""]
    if digest.dropped:
        lines += [dropped_note(digest.dropped), ""]
    for section in digest.sections:
        lines.append(f"== {section.rule} ({plural(len(section.items), 'article')}) ==")
        lines.append("")
        for entry in render_each(section.items, lambda i: _item_lines(i, tz), "text", omitted):
            lines += [f"* {entry.line()}"] if isinstance(entry, Omission) else entry
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
    # Imported here: a watcher that renders no digest in a run need not wait for Jinja2
    # (nor css_inline).
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("watcher", "templates"),
                      autoescape=select_autoescape(["html", "j2"], default=True),
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["local_time"] = local_time
    env.globals.update(safe_url=safe_url, legacy_also=legacy_also, plural=plural,
                       shown_versions=shown_versions, dropped_note=dropped_note)
    return env


@cache
def _inliner() -> css_inline.CSSInliner:
    import css_inline  # see _environment

    # Never fetch a stylesheet while rendering (the template has none to fetch; feed text
    # is escaped), and keep nothing but inline styles.
    return css_inline.CSSInliner(load_remote_stylesheets=False, keep_style_tags=False,
                                keep_link_tags=False)


def render_html(digest: Digest, omitted: list[Omission] | None = None) -> str:
    omitted = [] if omitted is None else omitted
    env = _environment()
    item_template = env.get_template("item.html.j2")

    def one(item: DigestItem) -> Markup:
        return Markup(item_template.render(item=item, timezone=digest.timezone).rstrip("\n"))

    sections = [(section, [_omitted_html(e) if isinstance(e, Omission) else e
                           for e in render_each(section.items, one, "html", omitted)])
                for section in digest.sections]
    html = env.get_template("digest.html.j2").render(
        digest=digest, subject=subject(digest), sections=sections)
    return _inliner().inline(html)


def _omitted_html(omission: Omission) -> Markup:
    return Markup('<div class="item omitted">{}</div>').format(omission.line())


def render_all(digest: Digest) -> Rendered:
    omitted: list[Omission] = []
    text = render_text(digest, omitted)
    html = render_html(digest, omitted)
    slack = render_slack(digest, omitted)
    return Rendered(subject=subject(digest), text=text, html=html, slack=slack,
                    omitted=tuple(omitted))
