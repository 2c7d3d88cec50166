"""Where the shared real data lives: ../shared beside the checkout (CI puts it there)."""

from __future__ import annotations

import gzip
import json
import os
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("WATCHER_SHARED", ROOT.parent / "shared"))
SEEDS = SHARED / "seeds"
CORPUS = SHARED / "corpus" / "article-extraction-dev"


@cache
def ground_truth() -> dict[str, dict[str, str]]:
    data: dict[str, dict[str, str]] = json.loads(
        (CORPUS / "ground-truth.json").read_text(encoding="utf-8"))
    return data


def corpus_page(page_id: str) -> bytes:
    return gzip.decompress((CORPUS / "html" / f"{page_id}.html.gz").read_bytes())
