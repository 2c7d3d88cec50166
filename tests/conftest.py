"""Fixtures every test folder may use: real servers started by the tests themselves.

The watcher processes the tests start keep the language model's decompressed copy
(watcher/extract/modelcache.py) in a temporary folder shared by the test runs, never in
the user's own cache. The checked rules they keep there (watcher/rulecache.py) are one file
per rules.yaml, and every test's rules.yaml is in a folder of its own: those of earlier runs
are removed when a run starts.
"""

import os
import tempfile
import time
from pathlib import Path

from tests.support.postgres import postgres_server

os.environ.pop("CACHE_DIRECTORY", None)
os.environ["XDG_CACHE_HOME"] = str(Path(tempfile.gettempdir()) / f"watcher-tests-{os.getuid()}")
_EARLIER_RUNS = time.time() - 3600  # a run in progress (another xdist worker) keeps its own
_FOLDER = Path(os.environ["XDG_CACHE_HOME"]) / "watcher"
for _kept in [*_FOLDER.glob("rules-*.json"), *_FOLDER.glob("compiled-*.pickle")]:
    try:
        if _kept.stat().st_mtime < _EARLIER_RUNS:
            _kept.unlink()
    except OSError:
        pass  # removed by another worker meanwhile

__all__ = ["postgres_server"]
