"""Which language an article is written in (ISO 639-1).

Detection is py3langid's naive-Bayes classifier over character n-grams: deterministic (no
random sampling, unlike langdetect), fast (docs/extraction.md), 97 languages with a
two-letter code. A page's own declaration (``<html lang>``, ``og:locale``...) is preferred
when the text does not clearly contradict it: declarations are right on most news sites,
but templates shared across language editions often say ``lang="en"`` on every one of them.
"""

from __future__ import annotations

import re

_CODE = re.compile(r"^([a-zA-Z]{2})(?:$|[-_])")
# Languages the classifier cannot tell apart reliably; a declaration inside the same
# family is believed.
_FAMILIES = ({"no", "nb", "nn"}, {"sr", "hr", "bs"}, {"ms", "id"}, {"da", "no", "nb"})
_SAMPLE_CHARS = 4000  # enough for a confident answer; bounds the cost on long pages
_MIN_CHARS = 20
_MIN_CONFIDENCE = 0.5
_OVERRULE_CHARS = 300  # text needed before detection may overrule a declaration
_OVERRULE_CONFIDENCE = 0.95


def normalise_code(value: str | None) -> str | None:
    """``"en-GB"``, ``"en_US"``, ``"EN"`` -> ``"en"``; None for anything else."""
    if not value:
        return None
    found = _CODE.match(value.strip())
    if not found:
        return None
    return found.group(1).lower()


def _classify(text: str) -> tuple[str, float] | None:
    sample = text[:_SAMPLE_CHARS]
    if len(sample.strip()) < _MIN_CHARS:
        return None
    from watcher.extract._langmodel import IDENTIFIER  # loaded on first use: see the module

    label, probability = IDENTIFIER.classify(sample)
    return str(label), float(probability)


def detect_language(text: str) -> str | None:
    """The ISO 639-1 code of ``text``'s language, or None when too short or unsure."""
    found = _classify(text)
    if found is None or found[1] < _MIN_CONFIDENCE:
        return None
    return normalise_code(found[0])


def _related(a: str, b: str) -> bool:
    return a == b or any(a in family and b in family for family in _FAMILIES)


def choose_language(declared: str | None, text: str) -> str | None:
    """The page's declared language unless the text clearly says otherwise."""
    hint = normalise_code(declared)
    found = _classify(text)
    if found is None:
        return hint
    label, probability = found
    detected = normalise_code(label)
    if hint is None:
        return detected if probability >= _MIN_CONFIDENCE else None
    if detected is None or _related(hint, detected):
        return hint
    if len(text) >= _OVERRULE_CHARS and probability >= _OVERRULE_CONFIDENCE:
        return detected
    return hint
