"""Text from feeds and pages made safe to encode and to show. Pure.

Python strings may hold lone surrogates (U+D800-U+DFFF), which a feed's numeric character
reference or a broken decoder can put there; UTF-8 refuses to encode them, so one such
character would stop a file, an index row or a message. Each becomes U+FFFD.

For display (digests, ``rules test``), control characters go too: no CR, tab or terminal
escape from a feed reaches a message or a terminal, and no bidi embedding, override or
isolate, which left unclosed reorders the rest of a line (a subject, a link's label).

Every replacement is one character for one, so offsets into the text (rule hits) stay valid.
"""

from __future__ import annotations

import re
from dataclasses import replace

from watcher.dates import as_utc
from watcher.types import Article

SURROGATES = {c: "\ufffd" for c in range(0xD800, 0xE000)}
# The same characters for ``encodable``: a text almost never holds one, and a regular
# expression finds that by scanning, and hands back the text itself, where ``translate``
# looks every character up in a table and builds a copy.
_SURROGATE = re.compile("[\ud800-\udfff]")

# Controls other than the paragraph break ("\n"), bidi controls, lone surrogates.
CONTROLS = {c: " " for c in (*range(0x00, 0x0A), *range(0x0B, 0x20), 0x7F, 0x2028, 0x2029,
                             *range(0x202A, 0x202F), *range(0x2066, 0x206A))}
CONTROLS.update(SURROGATES)


def flatten(text: str) -> str:
    """``text`` for display, its paragraph breaks kept, of the same length."""
    return text.translate(CONTROLS)


def one_line(text: str) -> str:
    """Feed text for a one-line slot (title, outlet): every run of white space, CR and LF
    included, becomes one space, so nothing from a feed can start a new line or header."""
    return " ".join(flatten(text).split())


def encodable(text: str) -> str:
    """``text`` with each lone surrogate made U+FFFD (``SURROGATES``), so UTF-8 takes it."""
    return _SURROGATE.sub("\ufffd", text)


def storable(article: Article) -> Article:
    """``article`` with every text field encodable and its times in UTC (a publication time
    that UTC cannot express, such as ``datetime.min`` at +14:00, is no publication time)."""
    return replace(
        article, url=encodable(article.url), canonical_url=encodable(article.canonical_url),
        feed=encodable(article.feed), site=encodable(article.site),
        site_name=encodable(article.site_name),
        title=encodable(article.title), description=encodable(article.description),
        paragraphs=tuple(encodable(p) for p in article.paragraphs),
        author=encodable(article.author),
        language=None if article.language is None else encodable(article.language),
        entry_id=encodable(article.entry_id),
        published=as_utc(article.published) if article.published else None,
        fetched=as_utc(article.fetched) or article.fetched)


__all__ = ["CONTROLS", "SURROGATES", "encodable", "flatten", "one_line", "storable"]
