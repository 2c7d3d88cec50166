"""Shared by the feeds tests: a watcher.yaml (with an empty rules.yaml) in a temp folder."""

from __future__ import annotations

from pathlib import Path


def config_file(folder: Path, text: str) -> Path:
    (folder / "rules.yaml").write_text("rules: []\n", encoding="utf-8")
    path = folder / "watcher.yaml"
    path.write_text(text, encoding="utf-8")
    return path
