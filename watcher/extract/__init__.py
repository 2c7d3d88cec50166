"""Page bytes -> ExtractedPage, plus the pure helpers around it.

- ``extract_page``: decode, read metadata, find the body (trafilatura), clean it.
- ``detect_language``: ISO 639-1 code of a text.
- ``fingerprint`` / ``remove_boilerplate``: site boilerplate learned across articles
  (the counting lives in ``watcher.store.boilerplate``).
- ``assess_text``: "page" or "partial" (teaser or paywall).
"""

from watcher.extract.assess import assess_text
from watcher.extract.boilerplate import (
    fingerprint,
    fingerprints,
    paragraph_fingerprint,
    remove_boilerplate,
)
from watcher.extract.language import detect_language
from watcher.extract.page import extract_page

__all__ = ["assess_text", "detect_language", "extract_page", "fingerprint", "fingerprints",
           "paragraph_fingerprint", "remove_boilerplate"]
