"""Feeds: fetched bytes -> ``ParsedFeed``, and finding, importing and exporting feeds.

- ``parse``: RSS, Atom and RDF through feedparser (the one place it is seen).
- ``prolog``: what is done to an XML feed before feedparser sees it, and why.
- ``entries``: feedparser's dictionaries -> our frozen types; HTML -> paragraphs.
- ``links``: the feeds an HTML page advertises.
- ``jsonfeed``: JSON Feed 1.0/1.1 (feedparser reads only XML).
- ``sitemap`` and ``sitemap_poll``: ``type: sitemap`` feeds (parsing; polling an index).
- ``discover``: ``watcher feeds add``, finding a site's feed from its address.
- ``opml`` and ``yaml_edit``: OPML in and out; adding feeds to watcher.yaml.

Text decoding is ``watcher.charset``, shared with page extraction.
"""

from watcher.feeds.parse import parse_feed
from watcher.feeds.prolog import MAX_AUTHOR_CHARS

__all__ = ["MAX_AUTHOR_CHARS", "parse_feed"]
