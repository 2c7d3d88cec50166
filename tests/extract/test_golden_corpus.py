"""Every corpus page's extraction, pinned: a change meant only to make extraction cheaper
must leave every field of every page as it was.

A deliberate change of what extraction finds regenerates the file with
``WATCHER_UPDATE_GOLDEN=1 python -m pytest tests/extract/test_golden_corpus.py``; review
the diff of tests/data/golden/extraction.json like code (the F1 on the same pages is
bench/bench_extract.py's job). The file names the versions of the libraries that extract;
under others the pages may differ for reasons that are not ours, so the test says so and
skips until the file is made again (after bench_extract.py shows the F1 kept).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from tests.support.data import corpus_page, ground_truth
from watcher.errors import ExtractError
from watcher.extract import extract_page

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden" / "extraction.json"
UPDATE = os.environ.get("WATCHER_UPDATE_GOLDEN") == "1"
LIBRARIES = ("trafilatura", "lxml", "py3langid", "htmldate", "justext", "courlan")


def _digest(value: object) -> str:
    text = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _summary(page_id: str, url: str) -> dict[str, Any]:
    try:
        page = extract_page(corpus_page(page_id), url)
    except ExtractError as err:
        return {"error": str(err)}
    fields = dataclasses.asdict(page)
    return {"title": page.title, "language": page.language,
            "published": str(page.published), "paragraphs": len(page.paragraphs),
            "text": _digest(page.paragraphs), "fields": _digest(fields)}


def test_every_corpus_page_extracts_as_pinned() -> None:
    versions = {name: version(name) for name in LIBRARIES}
    actual = {page_id: _summary(page_id, truth.get("url", "https://example.com/a"))
              for page_id, truth in sorted(ground_truth().items())}
    if UPDATE:
        GOLDEN.write_text(json.dumps({"versions": versions, "pages": actual}, indent=1,
                                     ensure_ascii=False) + "\n", encoding="utf-8")
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    if golden["versions"] != versions:
        pytest.skip(f"the golden extraction was made with {golden['versions']}, these are "
                    f"{versions}: check bench_extract.py, then WATCHER_UPDATE_GOLDEN=1")
    pinned = golden["pages"]
    changed = sorted(k for k in pinned.keys() | actual.keys()
                     if pinned.get(k) != actual.get(k))
    assert not changed, "extraction changed on: " + ", ".join(
        f"{k} ({pinned.get(k)} -> {actual.get(k)})" for k in changed[:5])
