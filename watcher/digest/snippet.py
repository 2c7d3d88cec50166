"""The sentence around a hit, with the matched spans, for "why is this article here".

Pure functions over the article's fields and the match's hits (``[field, start, end, term]``
character spans, as stored in the ``matches`` table). The rules package may later offer the
same helper; this one only needs the spans, not the query.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from watcher.digest.model import Snippet

# Which field explains a match best: a body sentence has context, a title hit repeats the
# title the reader already sees.
FIELD_PREFERENCE = ("body", "summary", "description", "title")
MAX_SNIPPET = 320  # characters; a long sentence is cut around the first hit

# A sentence ends at . ! ? … (plus closing quotes/brackets) followed by white space, or at a
# line break (one paragraph per line in our bodies).
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*\s+|\n+")


def sentence_bounds(text: str, position: int) -> tuple[int, int]:
    """[start, end) of the sentence of ``text`` that contains ``position``."""
    start = 0
    for m in _SENTENCE_END.finditer(text):
        if m.end() <= position:
            start = m.end()
            continue
        end = m.end() if text[m.start()] != "\n" else m.start()
        return start, end
    return start, len(text)


def hit_sentence(text: str, spans: Sequence[tuple[int, int]],
                 limit: int = MAX_SNIPPET) -> Snippet:
    """The sentence containing the first span, with every span inside it marked.

    Spans outside ``text`` (stale offsets) are ignored rather than trusted.
    """
    valid = sorted((s, e) for s, e in spans if 0 <= s < e <= len(text))
    if not valid:
        return Snippet(_clip(text.strip(), limit))
    first = valid[0][0]
    start, end = sentence_bounds(text, first)
    # Cut a run-on sentence to a window around the first hit, on word boundaries.
    prefix = suffix = ""
    if end - start > limit:
        lo = max(start, first - limit // 3)
        hi = min(end, lo + limit)
        if lo > start:
            space = text.find(" ", lo, first)
            lo = space + 1 if space != -1 else lo
            prefix = "… "
        if hi < end:
            space = text.rfind(" ", max(first, lo), hi)
            hi = space if space > first else hi
            suffix = " …"
        start, end = lo, hi
    raw = text[start:end]
    stripped = raw.rstrip()
    lead = len(raw) - len(raw.lstrip())
    body = stripped.lstrip()
    shift = start + lead - len(prefix)
    marks: list[tuple[int, int]] = []
    for s, e in valid:
        s2, e2 = max(s, start + lead), min(e, start + lead + len(body))
        if s2 < e2 and (not marks or s2 - shift >= marks[-1][1]):
            marks.append((s2 - shift, e2 - shift))
    return Snippet(prefix + body + suffix, tuple(marks))


def best_snippet(fields: Mapping[str, str],
                 hits: Sequence[tuple[str, int, int, str]]) -> Snippet:
    """The hit sentence from the most telling field that has hits; else the description."""
    fields = {name: _flatten(text) for name, text in fields.items()}
    by_field: dict[str, list[tuple[int, int]]] = {}
    for name, start, end, _term in hits:
        by_field.setdefault(name, []).append((start, end))
    for name in FIELD_PREFERENCE:
        text = fields.get(name, "")
        if by_field.get(name) and text:
            snippet = hit_sentence(text, by_field[name])
            if snippet.marks:
                return snippet
    fallback = fields.get("description") or fields.get("summary") or fields.get("body", "")
    first_line = fallback.split("\n", 1)[0]
    return Snippet(_clip(first_line.strip(), MAX_SNIPPET))


# Control characters other than the paragraph break become spaces: same length, so the hit
# offsets stay valid, and no CR, tab or escape from a feed reaches a rendered message.
_CONTROL = {c: " " for c in (*range(0x00, 0x0A), *range(0x0B, 0x20), 0x7F, 0x2028, 0x2029)}


def _flatten(text: str) -> str:
    return text.translate(_CONTROL)


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit] + " …"
