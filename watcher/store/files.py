"""Article files in the seed format, written atomically.

``NNN_HHHHHHHHHHHHHHHH.txt``: NNN the article's number zero-padded to at least 3 digits, H
the first 16 hex digits of SHA-256 of the canonical URL. UTF-8; line 1 the title, line 2
the standfirst when there is one, then the body one paragraph per line; no metadata lines
and, like the seeds, no newline after the last line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from watcher.atomic import replacing
from watcher.types import Article
from watcher.urls import url_hash

FILE_NAME = re.compile(r"^(\d{3,})_([0-9a-f]{16})\.txt$")
TEMP_PREFIX = ".tmp-"


def file_name(number: int, canonical_url: str) -> str:
    return f"{number:03d}_{url_hash(canonical_url)}.txt"


_LINE_BREAKS = re.compile(r"[ \t]*[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+[ \t]*")
# Any one of those breaks: most paragraphs hold none, and looking for one is a plain scan,
# where ``_LINE_BREAKS`` tries its leading blanks at every space of the text.
_A_LINE_BREAK = re.compile(r"[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]")


def _one_line(text: str) -> str:
    # Only line breaks go: other characters (a no-break space in a title) are the text.
    if _A_LINE_BREAK.search(text):
        text = _LINE_BREAKS.sub(" ", text)
    return text.strip()


def render(article: Article) -> str:
    lines = [_one_line(article.title)]
    if article.description.strip():
        lines.append(_one_line(article.description))
    lines.extend(p for p in (_one_line(p) for p in article.paragraphs) if p)
    return "\n".join(lines)


def write_atomic(path: Path, text: str) -> None:
    """temp file in the same folder, fsync, rename, fsync the folder: no reader sees half."""
    write_all_atomic(path.parent, [(path.name, text)])


def write_all_atomic(folder: Path, files: Sequence[tuple[str, str]]) -> None:
    """Each (name, text) as ``write_atomic`` writes it, the folder fsynced once at the end:
    once this returns, every file is whole and durable under its name."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files:
        with replacing(folder / name, prefix=TEMP_PREFIX) as handle:
            handle.write(text.encode("utf-8"))
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
