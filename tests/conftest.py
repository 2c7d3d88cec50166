"""Fixtures every test folder may use: real servers started by the tests themselves.

The watcher processes the tests start keep the language model's decompressed copy
(watcher/extract/modelcache.py) in a temporary folder shared by the test runs, never in
the user's own cache.
"""

import os
import tempfile
from pathlib import Path

from tests.support.postgres import postgres_server

os.environ.pop("CACHE_DIRECTORY", None)
os.environ["XDG_CACHE_HOME"] = str(Path(tempfile.gettempdir()) / f"watcher-tests-{os.getuid()}")

__all__ = ["postgres_server"]
