"""Page bytes -> ExtractedPage, plus the pure helpers around it.

- ``extract_page``: decode, read metadata, find the body (trafilatura), clean it.
- ``detect_language``: ISO 639-1 code of a text.
- ``fingerprint`` / ``remove_boilerplate``: site boilerplate learned across articles
  (the counting lives in ``watcher.store.boilerplate``).
- ``assess_text``: "page" or "partial" (teaser or paywall).

Each name is imported from its module on first use: the daemon, the web process and the
CLI use the light helpers (boilerplate, assessment) but never extract a page themselves
(the worker processes do, and their fork server preloads all of this), so they need not
import trafilatura, lxml's HTML stack and the language model on start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from watcher.extract.assess import assess_text
    from watcher.extract.boilerplate import (
        fingerprint,
        fingerprints,
        paragraph_fingerprint,
        remove_boilerplate,
    )
    from watcher.extract.language import detect_language
    from watcher.extract.page import extract_page

_HOMES = {"assess_text": "assess", "detect_language": "language", "extract_page": "page",
          "fingerprint": "boilerplate", "fingerprints": "boilerplate",
          "paragraph_fingerprint": "boilerplate", "remove_boilerplate": "boilerplate"}

__all__ = ["assess_text", "detect_language", "extract_page", "fingerprint", "fingerprints",
           "paragraph_fingerprint", "remove_boilerplate"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
