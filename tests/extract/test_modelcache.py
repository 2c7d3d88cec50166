"""The language model's decompressed copy in the cache: written once, read after, and never
needed: a cache that cannot be read or written leaves the model loading as before."""

from __future__ import annotations

import io
import lzma
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from watcher.extract.modelcache import MODEL_ARRAYS, cached_name, load_model_arrays
from watcher.usercache import cache_folder


def _npz(scale: int) -> bytes:
    buffer = io.BytesIO()
    arrays: dict[str, Any] = {name: np.arange(4, dtype=np.uint32) * scale + index
                              for index, name in enumerate(MODEL_ARRAYS)}
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@pytest.fixture
def model(tmp_path: Path) -> Path:
    """A small model in py3langid's shipped form: an LZMA-compressed .npz."""
    path = tmp_path / "model.npz.xz"
    path.write_bytes(lzma.compress(_npz(1)))
    return path


def _assert_arrays_of(arrays: dict[str, np.ndarray], scale: int) -> None:
    assert sorted(arrays) == sorted(MODEL_ARRAYS)
    for index, name in enumerate(MODEL_ARRAYS):
        assert arrays[name].tolist() == [n * scale + index for n in range(4)]


def test_the_first_load_leaves_the_decompressed_model_and_later_loads_read_it(
        tmp_path: Path, model: Path) -> None:
    folder = tmp_path / "cache" / "watcher"
    _assert_arrays_of(load_model_arrays(model, folder), 1)
    cached = folder / cached_name(model)
    assert cached.read_bytes() == _npz(1)
    assert [p.name for p in folder.iterdir()] == [cached.name]
    # A different copy in its place is what the next load reads: the cache is read.
    cached.write_bytes(_npz(10))
    _assert_arrays_of(load_model_arrays(model, folder), 10)


def test_a_new_model_gets_a_name_of_its_own(tmp_path: Path, model: Path) -> None:
    before = cached_name(model)
    model.write_bytes(lzma.compress(_npz(3)))
    assert cached_name(model) != before
    _assert_arrays_of(load_model_arrays(model, tmp_path / "cache"), 3)


@pytest.mark.parametrize("damage", [b"", b"PK\x03\x04 cut short", None])
def test_a_damaged_copy_is_made_again(tmp_path: Path, model: Path,
                                      damage: bytes | None) -> None:
    folder = tmp_path / "cache"
    folder.mkdir()
    cached = folder / cached_name(model)
    cached.write_bytes(damage if damage is not None else _npz(1)[:-40])
    _assert_arrays_of(load_model_arrays(model, folder), 1)
    assert cached.read_bytes() == _npz(1)


def test_a_folder_that_cannot_be_written_still_loads_the_model(
        tmp_path: Path, model: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    _assert_arrays_of(load_model_arrays(model, blocker / "watcher"), 1)
    assert blocker.read_text() == "not a folder"


def test_an_unreadable_model_fails_and_leaves_no_partial_copy(tmp_path: Path) -> None:
    broken = tmp_path / "model.npz.xz"
    broken.write_bytes(b"not xz at all")
    folder = tmp_path / "cache"
    with pytest.raises(lzma.LZMAError):
        load_model_arrays(broken, folder)
    assert list(folder.iterdir()) == []


def test_the_cache_folder_follows_systemd_then_xdg_then_home() -> None:
    assert cache_folder({"CACHE_DIRECTORY": "/var/cache/watcher:/var/cache/other",
                         "XDG_CACHE_HOME": "/x"}) == Path("/var/cache/watcher")
    assert cache_folder({"XDG_CACHE_HOME": "/x"}) == Path("/x/watcher")
    assert cache_folder({}) == Path.home() / ".cache" / "watcher"


def test_without_a_home_folder_there_is_no_cache_and_the_model_loads(
        model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Path.home() raises when neither $HOME nor the passwd database names a home; this
    # machine always has one, so that is mocked here.
    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    assert cache_folder({}) is None
    monkeypatch.delenv("CACHE_DIRECTORY", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    _assert_arrays_of(load_model_arrays(model), 1)
