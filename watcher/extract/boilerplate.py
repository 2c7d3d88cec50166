"""Site boilerplate: paragraphs a site repeats across its articles (appeals, newsletter
boxes, "Join our commenting forum", video captions, copyright lines).

No extractor can tell such a paragraph from the story on one page: it sits inside the
article's container and reads like prose. Across articles it gives itself away: the story
changes, the appeal does not. So every paragraph gets a fingerprint, the store counts in how
many *distinct* articles of one site each fingerprint appeared within a window
(``watcher.store.boilerplate``), and a paragraph whose fingerprint is known for the site is
dropped. This module holds the pure half: fingerprints and removal.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence

_DIGITS = re.compile(r"\d+")
_NON_WORD = re.compile(r"[\W_]+")


def normalise_paragraph(paragraph: str) -> str:
    """What two copies of one boilerplate paragraph have in common.

    Case, punctuation, quote styles and spacing vary between templates and over time, and
    numbers change ("© 2024", "Updated 3 hours ago", "12 comments"): all are flattened.
    """
    text = unicodedata.normalize("NFKC", paragraph).casefold()
    text = _DIGITS.sub("0", text)
    return _NON_WORD.sub(" ", text).strip()


def fingerprint(paragraph: str) -> str:
    """16 hex digits identifying a normalised paragraph (BLAKE2b, 64 bits)."""
    return _digest(normalise_paragraph(paragraph))


def paragraph_fingerprint(paragraph: str) -> str | None:
    """The paragraph's fingerprint, or None when it has no word at all (a lone "•", "—"):
    normalised once, where ``fingerprints`` then ``remove_boilerplate`` would each do it."""
    normal = normalise_paragraph(paragraph)
    return _digest(normal) if normal else None


def _digest(normal: str) -> str:
    return hashlib.blake2b(normal.encode("utf-8"), digest_size=8).hexdigest()


def fingerprints(paragraphs: Iterable[str]) -> frozenset[str]:
    """The distinct fingerprints of an article's paragraphs (what the store records)."""
    return frozenset(f for f in map(paragraph_fingerprint, paragraphs) if f is not None)


def remove_boilerplate(paragraphs: Iterable[str], known: frozenset[str],
                       prints: Sequence[str | None] | None = None) -> tuple[str, ...]:
    """The paragraphs whose fingerprint is not known boilerplate for the site, in order.

    Paragraphs with no word at all (a lone "•", "—") go too: they carry nothing to match.
    The result may be empty when the page held nothing but boilerplate. ``prints``: the
    paragraphs' ``paragraph_fingerprint``, when already worked out.
    """
    paragraphs = tuple(paragraphs)
    if prints is None:
        prints = tuple(map(paragraph_fingerprint, paragraphs))
    return tuple(paragraph for paragraph, found in zip(paragraphs, prints, strict=True)
                 if found is not None and found not in known)
