"""The user's cache folder: what watcher keeps there can always be made again.

Three things live there: the language model's decompressed copy
(``extract/modelcache.py``), the last clean check of each rules.yaml (``rulecache.py``) and
its rules as last compiled (``compiledcache.py``). Deleting the folder is always safe; the
next start makes what it needs again.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def cache_folder(environ: Mapping[str, str] = os.environ) -> Path | None:
    """Where: ``$CACHE_DIRECTORY`` (systemd's ``CacheDirectory=``), else
    ``$XDG_CACHE_HOME/watcher``, else ``~/.cache/watcher`` (it may not exist yet); None
    when there is none to be found (no home folder)."""
    if systemd := environ.get("CACHE_DIRECTORY"):
        # systemd may give several, colon-separated, in the order the unit names them.
        return Path(systemd.split(":")[0])
    if xdg := environ.get("XDG_CACHE_HOME"):
        return Path(xdg) / "watcher"
    try:
        return Path.home() / ".cache" / "watcher"
    except RuntimeError:  # neither $HOME nor a passwd entry: no cache, not a failed start
        return None
