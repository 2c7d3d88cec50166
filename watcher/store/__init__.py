"""The index (SQLAlchemy Core on SQLite or PostgreSQL) and the article files.

All SQL of watcher lives in this package: the tables in ``schema.py`` and their history in
``migrations/``; ``Store`` (``index.py``) with its sub-stores ``store.outbox`` and
``store.boilerplate``; ``copy.py`` moves an index to another database. See docs/store.md.

The package's names are imported when first asked for: a worker process builds an
article's rows with ``store.ready`` and its pure helpers, and has no use for SQLAlchemy,
the migrations or the index.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from watcher.store.codec import MAX_STORED_HITS_PER_TERM
    from watcher.store.entries import PendingEntry
    from watcher.store.index import Store

__all__ = ["MAX_STORED_HITS_PER_TERM", "PendingEntry", "Store"]

_HOMES = {"MAX_STORED_HITS_PER_TERM": "watcher.store.codec",
          "PendingEntry": "watcher.store.entries", "Store": "watcher.store.index"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
