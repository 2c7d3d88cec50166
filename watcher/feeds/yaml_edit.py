"""Adding feeds to watcher.yaml the way a person would: every byte already there is kept
(comments, order, quoting, blank lines, indentation), and new entries are written at the
end of the ``feeds:`` list in that list's own indentation.

ruamel.yaml reads the file as a round-trip document, which knows the line and column of
every key and item (PyYAML, which loads the config, forgets them and drops comments), and
writes the new entries. Dumping the whole document back would re-indent it to one style,
so the entries are inserted as lines after the list's last line instead. The new text is
validated by the ordinary config loader before it replaces the file, and the replacement
is atomic (a temporary file beside it, then ``os.replace``), so a running daemon's reload
sees either the old file or the new one, never half of it.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from watcher.config import Config, load_config
from watcher.errors import ConfigError

__all__ = ["add_feeds", "feeds_yaml"]

NewFeed = Mapping[str, Any]  # the keys of one feed entry: name, url, interval, type, tags


def _entry(feed: NewFeed) -> CommentedMap:
    entry = CommentedMap()
    for key in ("name", "type", "url", "interval", "tags"):
        value = feed.get(key)
        if value:
            entry[key] = CommentedSeq(value) if isinstance(value, list | tuple) else value
            if key == "tags":
                entry[key].fa.set_flow_style()
    return entry


def _yaml() -> YAML:
    yaml = YAML()
    yaml.width = 100
    yaml.indent(mapping=2, sequence=2, offset=0)
    return yaml


def feeds_yaml(feeds: Sequence[NewFeed]) -> str:
    """The ``feeds:`` entries as YAML a person can paste into watcher.yaml."""
    return "feeds:\n" + _items(feeds, 2)


def add_feeds(path: Path, feeds: Sequence[NewFeed]) -> Config:
    """Append ``feeds`` to the config file at ``path``; returns the validated new config.

    Raises ``ConfigError`` (nothing written) when the result would not load.
    """
    text = path.read_text(encoding="utf-8")
    _write_checked(path, _with_feeds(text, feeds))
    return load_config(path)


def _with_feeds(text: str, feeds: Sequence[NewFeed]) -> str:
    data = YAML().load(text)
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    existing = data.get("feeds") if isinstance(data, CommentedMap) else None
    if not isinstance(data, CommentedMap) or "feeds" not in data:
        return "".join(lines) + "\nfeeds:\n" + _items(feeds, 2)
    key_line, key_column = data.lc.key("feeds")
    if not isinstance(existing, CommentedSeq) or existing.fa.flow_style() or not existing:
        # ``feeds:`` empty or ``feeds: []``: the key's line becomes a block list.
        lines[key_line] = " " * key_column + "feeds:\n" + _items(feeds, key_column + 2)
        return "".join(lines)
    item_line, item_column = existing.lc.item(0)
    dash = lines[item_line].index("-") if "-" in lines[item_line][:item_column] else (
        max(item_column - 2, 0))
    end = _block_end(lines, key_line, key_column)
    return "".join(lines[:end]) + _items(feeds, dash) + "".join(lines[end:])


def _block_end(lines: list[str], key_line: int, key_column: int) -> int:
    """The index after the last line of the value of the key on ``key_line``."""
    end = key_line + 1
    for index in range(key_line + 1, len(lines)):
        stripped = lines[index].strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(lines[index]) - len(lines[index].lstrip(" "))
        if indent <= key_column and not stripped.startswith("-"):
            break
        if indent < key_column:
            break
        end = index + 1
    return end


def _items(feeds: Sequence[NewFeed], dash: int) -> str:
    out = io.StringIO()
    _yaml().dump([_entry(feed) for feed in feeds], out)
    return "".join(" " * dash + line if line.strip() else line
                   for line in out.getvalue().splitlines(keepends=True))


def _write_checked(path: Path, text: str) -> None:
    fd, temporary = tempfile.mkstemp(prefix=".watcher-", suffix=".yaml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        try:
            load_config(Path(temporary))
        except ConfigError as exc:
            raise ConfigError([replace(p, file=str(path)) for p in exc.problems]) from None
        os.chmod(temporary, path.stat().st_mode & 0o7777)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
