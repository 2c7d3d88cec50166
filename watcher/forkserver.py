"""The workers' fork server: started early by ``watcher run``, it imports what every
worker needs and, given the config, compiles its rules once for all of them.

``start_fork_server`` starts it while the daemon goes on importing and checking its files
on another core. The server imports ``workers.DEFAULT_PRELOAD`` (trafilatura, the language
model, feedparser, the rule engine), this module last. Here, when ``watcher run`` named its
config in ``WATCHER_FORK_SERVER_CONFIG`` (set only while the server starts), the server
compiles that config's rules (``entrywork.preload_rules``), or reads them back from the
user's cache when it compiled the same rules before (``compiledcache.py``). Every worker is
a fork of the server, so each starts with the compiled rules in memory, shared with its
siblings until written to, and takes them when the daemon shares the same rules instead of
compiling its own (``entrywork.compile_rules``). Rules edited since, or changed by a
reload, are compiled in each worker as before. docs/performance.md has the figures.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import os
from collections.abc import Sequence
from pathlib import Path

CONFIG_VARIABLE = "WATCHER_FORK_SERVER_CONFIG"


def start_fork_server(preload: Sequence[str] | None = None, *,
                      config: Path | None = None) -> None:
    """Start this process's fork server now, importing ``preload`` (None: the workers'
    default), so a pool started later forks its workers from it; with ``config``, the
    server also compiles that config's rules. The server exits with this process."""
    from watcher.workers import DEFAULT_PRELOAD

    multiprocessing.get_context("forkserver").set_forkserver_preload(
        list(DEFAULT_PRELOAD if preload is None else preload))
    before = os.environ.get(CONFIG_VARIABLE)
    if config is not None:
        os.environ[CONFIG_VARIABLE] = str(config.resolve())
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        if before is None:
            os.environ.pop(CONFIG_VARIABLE, None)
        else:
            os.environ[CONFIG_VARIABLE] = before


def _compile_named_rules() -> None:
    named = os.environ.get(CONFIG_VARIABLE)
    if named:
        from watcher.entrywork import preload_rules

        preload_rules(Path(named))


_compile_named_rules()
