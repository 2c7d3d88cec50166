"""``watcher.atomic.replacing``: the new content whole, or the old content untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from watcher.atomic import replacing


def test_the_content_replaces_the_file_only_when_the_block_ends(tmp_path: Path) -> None:
    target = tmp_path / "story.txt"
    target.write_bytes(b"old")
    with replacing(target, prefix=".tmp-", suffix=".part") as handle:
        handle.write(b"new ")
        handle.write(b"text")
        assert target.read_bytes() == b"old"
        [temporary] = [p for p in tmp_path.iterdir() if p != target]
        assert temporary.name.startswith(".tmp-") and temporary.name.endswith(".part")
    assert target.read_bytes() == b"new text"
    assert list(tmp_path.iterdir()) == [target]


def test_an_error_in_the_block_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "story.txt"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="disk gone"), \
            replacing(target, prefix=".tmp-") as handle:
        handle.write(b"half")
        raise RuntimeError("disk gone")
    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]


def test_a_new_file_appears_whole(tmp_path: Path) -> None:
    target = tmp_path / "new.txt"
    with replacing(target, prefix=".tmp-") as handle:
        handle.write(b"whole")
    assert target.read_bytes() == b"whole"
