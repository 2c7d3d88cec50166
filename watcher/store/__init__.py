"""The index (SQLAlchemy Core on SQLite or PostgreSQL) and the article files.

All SQL of watcher lives in this package: the tables in ``schema.py`` and their history in
``migrations/``; ``Store`` (``index.py``) with its sub-stores ``store.outbox`` and
``store.boilerplate``; ``copy.py`` moves an index to another database. See docs/store.md.
"""

from watcher.store.codec import MAX_STORED_HITS_PER_TERM
from watcher.store.entries import PendingEntry
from watcher.store.index import Store

__all__ = ["MAX_STORED_HITS_PER_TERM", "PendingEntry", "Store"]
