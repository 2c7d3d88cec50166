"""The language model's arrays, read from a decompressed copy kept in the user's cache.

py3langid ships its model as an LZMA-compressed ``.npz``; decompressing it is most of the
model's load, and every ``watcher run`` (each cron-driven ``run --once`` too) pays it
before its workers can start (docs/performance.md, "A seventeenth round"). The
decompressed file is the same ``.npz`` byte for byte, so it is kept once in a cache folder
under a name that carries the compressed file's digest (a new py3langid brings a new
name), and read from there on every later start. The cache is an optimisation only:
when it cannot be written or read, the model is decompressed as before.

Where: the user's cache folder (``usercache.cache_folder``). Deleting it is always safe.
"""

from __future__ import annotations

import hashlib
import lzma
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np

from watcher.atomic import replacing
from watcher.usercache import cache_folder

# What a py3langid model must hold for us to build its identifier ourselves.
MODEL_ARRAYS = ("ptc", "pc", "classes", "nextmove", "nextmove_row", "out_feat")


def cached_name(compressed: Path) -> str:
    digest = hashlib.sha256(compressed.read_bytes()).hexdigest()[:20]
    return f"langid-{digest}.npz"


def load_model_arrays(compressed: Path, folder: Path | None = None) -> dict[str, Any]:
    """The arrays of the ``.npz.xz`` model at ``compressed``, each a numpy array.

    Read from the decompressed copy in ``folder`` (``cache_folder()`` by default) when
    there is a sound one; otherwise decompressed, and the copy (re)written when the folder
    allows. Raises what numpy or lzma raise when the model itself is unreadable.
    """
    folder = folder or cache_folder()
    if folder is not None:
        cached = folder / cached_name(compressed)
        try:
            return _read_npz(cached)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            pass  # absent, unreadable or cut short: made again below
        try:
            _decompress_into(compressed, cached)
            return _read_npz(cached)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            pass  # a read-only or full disk: the cache is only an optimisation
    with tempfile.TemporaryFile(suffix=".npz") as scratch:
        _decompress(compressed, scratch)
        scratch.seek(0)
        return _read_npz(scratch)


def _read_npz(source: Path | IO[bytes]) -> dict[str, Any]:
    with np.load(source, allow_pickle=False) as data:
        return {name: data[name] for name in MODEL_ARRAYS}


def _decompress(compressed: Path, target: IO[bytes]) -> None:
    with lzma.open(compressed) as source:
        shutil.copyfileobj(source, target, length=1 << 20)


def _decompress_into(compressed: Path, cached: Path) -> None:
    """Write the decompressed model to ``cached`` atomically: a process that reads it
    meanwhile, or one that writes it at the same time, sees a whole file or none."""
    cached.parent.mkdir(parents=True, exist_ok=True)
    with replacing(cached, prefix=".langid-", suffix=".part") as target:
        _decompress(compressed, target)
