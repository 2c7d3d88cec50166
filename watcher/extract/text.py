"""Small text normalisation shared by the extraction modules."""

from __future__ import annotations

import re
import unicodedata

# Zero-width and bidi-control characters survive every whitespace rule and break both word
# matching and paragraph fingerprints ("Join\u200b our" != "Join our").
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00ad\u202a-\u202e]")
# Runs of whitespace become one space, but a no-break space is the text's own (publishers
# write "The\u00a0Independent" on purpose) and is kept as written.
_SPACE = re.compile(r"[^\S\u00a0\u202f]+")
# What ``_SPACE`` would change: white space other than a plain space, or two together. Most
# texts hold neither, and finding that is one scan, where ``_SPACE`` replaces every space
# between two words by a space and builds the text again.
_ODD_SPACE = re.compile(r"[^\S \u00a0\u202f]|  ")


def clean_text(text: str) -> str:
    """NFC, invisible characters removed, whitespace runs one space (no-break spaces kept)."""
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text)
    if _ODD_SPACE.search(text):
        text = _SPACE.sub(" ", text)
    return text.strip()
