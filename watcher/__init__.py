"""watcher: a self-hosted news watcher.

Stages, one module each: fetch (HTTP), feeds (feed parsing), extract (article text),
rules (matching), store (SQLite index + article files), pipeline (one poll, pure decisions
plus the adapters), digest (building digests), notify (delivery channels), runtime
(assembling and reloading a running watcher), scheduler (the daemon's ticks), cli
(commands).
"""

__version__ = "0.1.0"
