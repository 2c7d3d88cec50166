"""Small text normalisation shared by the extraction modules."""

from __future__ import annotations

import re
import unicodedata

# Zero-width and bidi-control characters survive every whitespace rule and break both word
# matching and paragraph fingerprints ("Join\u200b our" != "Join our").
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00ad\u202a-\u202e]")
_SPACE = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """NFC, invisible characters removed, every run of whitespace one space, trimmed."""
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text)
    return _SPACE.sub(" ", text).strip()
