"""Files replaced whole: a reader sees the old content or the new, never a part.

The article files (``store/files.py``), a file channel's messages (``notify/files.py``), the
language model's cached copy (``extract/modelcache.py``) and the kept checks of rules.yaml
(``rulecache.py``) are written this way.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


@contextlib.contextmanager
def replacing(path: Path, *, prefix: str, suffix: str = "") -> Iterator[BinaryIO]:
    """A binary handle whose content replaces ``path`` when the block ends without error.

    It writes a temporary file in ``path``'s folder (named ``prefix``...``suffix``, so that
    a sweep can tell leftovers of a crash), flushed and fsynced before it is renamed over
    ``path``. On an error the temporary file is removed and ``path`` is left as it was.
    The folder itself is not fsynced: a caller that needs the rename durable does that,
    once for all the files it wrote.
    """
    handle_fd, temporary = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=path.parent)
    try:
        with os.fdopen(handle_fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
