"""Is the text we got the whole article, or a teaser / the part before a paywall?

Two signals, either one enough:

- the page declares itself paywalled (schema.org ``isAccessibleForFree: false`` or a locked
  content tier, read by ``metadata.py`` into ``ExtractedPage.paywall``);
- the text is much shorter than what the site usually gives us: under a quarter of the
  site's typical length (the median of its recent articles, kept by
  ``watcher.store.boilerplate.BoilerplateStore.typical_chars``) *and* under
  ``TEASER_MAX_CHARS``, so that a short news brief on a long-read site is not called a
  teaser. With no typical length yet (a new site) only the paywall signal counts.
"""

from __future__ import annotations

from collections.abc import Sequence

from watcher.types import ExtractedPage, TextSource

TEASER_RATIO = 0.25
TEASER_MAX_CHARS = 1500


def assess_text(page_or_paragraphs: ExtractedPage | Sequence[str],
                site_typical_chars: int | None) -> TextSource:
    """"partial" for a paywalled page or a text far shorter than the site's usual."""
    if isinstance(page_or_paragraphs, ExtractedPage):
        if page_or_paragraphs.paywall:
            return "partial"
        paragraphs: Sequence[str] = page_or_paragraphs.paragraphs
    else:
        paragraphs = page_or_paragraphs
    chars = sum(len(p) for p in paragraphs)
    if (site_typical_chars and chars < site_typical_chars * TEASER_RATIO
            and chars < TEASER_MAX_CHARS):
        return "partial"
    return "page"
