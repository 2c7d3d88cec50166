"""The real data the tests and benchmarks read, carried inside the repository (tests/data/).

- ``seeds/``: the two seed-format articles the store's files must match byte for byte.
- ``corpus/``: 79 real article pages with hand-checked bodies (MIT, see corpus/LICENSE).

Benchmarks may take a larger corpus by path (their ``--corpus`` option); tests never read
anything outside the repository.
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
SEEDS = DATA / "seeds"
CORPUS = DATA / "corpus"
# A corpus page from Florida Today: JSON-LD dates of year 1 (issue 17), og:site_name
# "floridatoday" and a JSON-LD publisher "Florida Today".
FLORIDA_TODAY = "c81e134ed49902bcf69b551426b4a346c5a77ae993cac8bda68b5541a664ef4c"


@cache
def ground_truth(corpus: Path = CORPUS) -> dict[str, dict[str, str]]:
    data: dict[str, dict[str, str]] = json.loads(
        (corpus / "ground-truth.json").read_text(encoding="utf-8"))
    return data


def corpus_page(page_id: str, corpus: Path = CORPUS) -> bytes:
    return gzip.decompress((corpus / "html" / f"{page_id}.html.gz").read_bytes())
