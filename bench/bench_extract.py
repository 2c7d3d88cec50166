"""Extraction benchmark: the watcher's fetch + extract path against plain trafilatura.

    python bench/bench_extract.py [--passes N] [--ablations] [--halves] [--worst N]
                                  [--corpus PATH]

Serves the 79 pages of ``tests/data/corpus`` (or ``--corpus PATH``) from a local HTTP server,
fetches each with the watcher's ``Fetcher``, extracts it with ``extract_page`` in the
``WorkerPool`` (the daemon's path), and scores the stored body (the paragraphs, one per
line; title and standfirst are stored apart) against the ground truth. Plain
``trafilatura.extract(html)`` with default settings is scored in the same run on the same
fetched bytes, and so is the scrapinghub runner's call (``include_comments=False``), the
figure the public leaderboard reports.

The metric is the scrapinghub article-extraction-benchmark's: token shingles of 4 (tokens
are ``\\w+`` runs), per page true positives / false positives / false negatives counted over
the shingle multisets and normalised by their sum, precision and recall averaged over pages,
F1 the harmonic mean of the two averages; ± is the bootstrap standard deviation over pages.

ms/page is single-core CPU time measured in-process, the same way for every row: for the
three main rows, the median of ``--passes`` passes over the pages (3), taken in turns after
one pass of each to warm up, and the watcher's ratio to plain trafilatura's at the end of
the "minus" row; an ablation's is one pass.
``--ablations`` also scores extract_page with each of its levers changed in turn.
``--halves`` adds each row's figures on two fixed halves of the pages (page ids are hashes:
ids starting 0-7 and 8-f), to tune a rule on one half and confirm it on the other.
``--worst N`` lists the N pages with the lowest recall for extract_page, with plain
trafilatura's figures beside them: where to look for the next general cause of loss.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import logging
import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402

from tests.support.servers import LocalHTTPServer  # noqa: E402
from watcher.config import NetworkConfig  # noqa: E402
from watcher.errors import ExtractError  # noqa: E402
from watcher.extract import detect_language, extract_page  # noqa: E402
from watcher.extract.body import TrafilaturaOptions  # noqa: E402
from watcher.extract.cleanup import CleanupOptions  # noqa: E402
from watcher.extract.page import ExtractOptions, extract_with  # noqa: E402
from watcher.fetch import Fetcher, build_client  # noqa: E402
from watcher.types import ExtractedPage, HttpResult  # noqa: E402
from watcher.workers import WorkerPool  # noqa: E402

TokenCounts = tuple[float, float, float]
_TOKEN = re.compile(r"\w+")
BOOTSTRAP = 1000


# -- the metric (scrapinghub article-extraction-benchmark, evaluate.py) ----------------------

def shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    return Counter(tuple(tokens[i:i + n]) for i in range(max(1, len(tokens) - n + 1))
                   if tokens[i:i + n])


def shingle_counts(true: str, pred: str) -> TokenCounts:
    """(tp, fp, fn) over shingle multisets, normalised so that long pages weigh no more."""
    expected, got = shingles(true), shingles(pred)
    tp = sum((expected & got).values())
    fp = sum((got - expected).values())
    fn = sum((expected - got).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def _precision(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fp == 0 else tp / (tp + fp)


def _recall(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fn == 0 else tp / (tp + fn)


def scores(counts: Sequence[TokenCounts]) -> tuple[float, float, float]:
    """(F1, precision, recall) as the benchmark computes them."""
    precision = statistics.mean(_precision(*c) for c in counts if c[0] + c[1] > 0)
    recall = statistics.mean(_recall(*c) for c in counts if c[0] + c[2] > 0)
    return 2 * precision * recall / (precision + recall), precision, recall


def bootstrap_std(counts: Sequence[TokenCounts]) -> tuple[float, float, float]:
    rng = random.Random(0)  # the same resamples for every row: differences are comparable
    samples = [scores([counts[rng.randrange(len(counts))] for _ in counts])
               for _ in range(BOOTSTRAP)]
    return tuple(statistics.stdev(s[i] for s in samples) for i in range(3))  # type: ignore


# -- the corpus, served and fetched ---------------------------------------------------------

@dataclass(frozen=True)
class Case:
    page_id: str
    url: str  # the page's original URL (ground truth)
    path: str  # where the local server serves it
    html: bytes
    truth: str


def load_cases(corpus: Path) -> list[Case]:
    truth = json.loads((corpus / "ground-truth.json").read_text(encoding="utf-8"))
    cases = []
    for page_id in sorted(truth):
        original = urlsplit(truth[page_id]["url"])
        cases.append(Case(page_id, truth[page_id]["url"],
                          f"/{page_id[:12]}{original.path or '/'}",
                          gzip.decompress((corpus / "html" / f"{page_id}.html.gz").read_bytes()),
                          truth[page_id]["articleBody"]))
    return cases


async def fetch_all(server: LocalHTTPServer, cases: Sequence[Case]) -> list[HttpResult]:
    network = NetworkConfig(allow=("127.0.0.1",))
    async with build_client(network) as client:
        fetcher = Fetcher(client, network)
        # A few at a time: the test server's listen backlog is socketserver's 5, and 79
        # simultaneous connects overflow it (dropped connections, 20 s read timeouts).
        gate = asyncio.Semaphore(4)

        async def get(case: Case) -> HttpResult:
            async with gate:
                return await fetcher.get(server.url(case.path),
                                         max_bytes=network.max_page_bytes)

        return list(await asyncio.gather(*(get(c) for c in cases)))


async def extract_in_pool(results: Sequence[HttpResult]) -> tuple[list[str], float, float]:
    """Bodies via WorkerPool(2) as the daemon does; (bodies, start-up s, wall s)."""
    started = time.perf_counter()
    async with WorkerPool(2) as pool:
        ready = time.perf_counter()

        async def one(result: HttpResult) -> str:
            try:
                page: ExtractedPage = await pool.run(
                    extract_page, result.content, result.url,
                    result.headers.get("content-type"), timeout=60)
            except ExtractError:
                return ""
            return "\n".join(page.paragraphs)

        bodies = list(await asyncio.gather(*(one(r) for r in results)))
        done = time.perf_counter()
    return bodies, ready - started, done - ready


# -- rows -----------------------------------------------------------------------------------

Extractor = Callable[[HttpResult], str]


def ours(options: ExtractOptions) -> Extractor:
    def run(result: HttpResult) -> str:
        try:
            page = extract_with(result.content, result.url, result.headers.get("content-type"),
                                options)
        except ExtractError:
            return ""
        return "\n".join(page.paragraphs)
    return run


def plain(include_comments: bool = True) -> Extractor:
    def run(result: HttpResult) -> str:
        return trafilatura.extract(result.content, include_comments=include_comments) or ""
    return run


def timed(extractor: Extractor, results: Sequence[HttpResult]) -> tuple[list[str], float]:
    """Bodies and CPU ms per page, one core, in this process."""
    started = time.process_time()
    bodies = [extractor(r) for r in results]
    return bodies, 1000 * (time.process_time() - started) / len(results)


def timed_alternately(extractors: Sequence[Extractor], results: Sequence[HttpResult],
                      passes: int) -> list[tuple[list[str], float]]:
    """For each extractor, its bodies and the median CPU ms per page over ``passes`` passes
    over the pages, taken in turns after one pass of each to warm up: a pass run cold, or
    all of one extractor's passes in a row, would charge it for the machine's moment."""
    bodies = [[extractor(r) for r in results] for extractor in extractors]
    times: list[list[float]] = [[] for _ in extractors]
    for turn in range(passes):
        # each pass starts with the next extractor, so none is always first after a pause
        order = [(turn + k) % len(extractors) for k in range(len(extractors))]
        for index in order:
            times[index].append(timed(extractors[index], results)[1])
    return [(b, statistics.median(t)) for b, t in zip(bodies, times, strict=True)]


def paired_difference(ours: Sequence[TokenCounts], theirs: Sequence[TokenCounts]
                      ) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """(F1, precision, recall) of ours minus theirs, and the bootstrap standard deviation of
    those differences with the same pages drawn for both (paired: page difficulty cancels)."""
    a, b = scores(ours), scores(theirs)
    rng = random.Random(0)
    samples = []
    for _ in range(BOOTSTRAP):
        pick = [rng.randrange(len(ours)) for _ in ours]
        x, y = scores([ours[i] for i in pick]), scores([theirs[i] for i in pick])
        samples.append(tuple(x[k] - y[k] for k in range(3)))
    diff = tuple(a[k] - b[k] for k in range(3))
    spread = tuple(statistics.stdev(s[k] for s in samples) for k in range(3))
    return diff, spread  # type: ignore[return-value]


HALVES = (("half A (ids 0-7)", "01234567"), ("half B (ids 8-f)", "89abcdef"))


def row(name: str, cases: Sequence[Case], bodies: Sequence[str], ms: float | None,
        halves: bool = False) -> str:
    counts = [shingle_counts(c.truth, b) for c, b in zip(cases, bodies, strict=True)]
    f1, precision, recall = scores(counts)
    sf, sp, sr = bootstrap_std(counts)
    timing = f"{ms:7.1f}" if ms is not None else "      -"
    line = (f"{name:<50} {f1:.4f} ±{sf:.3f}  {precision:.4f} ±{sp:.3f}  "
            f"{recall:.4f} ±{sr:.3f}  {timing}")
    if halves:
        for label, first in HALVES:
            part = [n for c, n in zip(cases, counts, strict=True) if c.page_id[0] in first]
            hf, hp, hr = scores(part)
            line += f"\n    {label:<46} {hf:.4f}         {hp:.4f}         {hr:.4f}"
    return line


def page_scores(truth: str, body: str) -> tuple[float, float]:
    """(precision, recall) of one page."""
    counts = shingle_counts(truth, body)
    return _precision(*counts), _recall(*counts)


def worst(cases: Sequence[Case], bodies: Sequence[str], baseline: Sequence[str],
          n: int) -> list[str]:
    """The n pages with the lowest recall, ours and plain trafilatura's side by side."""
    rows = []
    for case, body, base in zip(cases, bodies, baseline, strict=True):
        (p, r), (bp, br) = page_scores(case.truth, body), page_scores(case.truth, base)
        rows.append((r, p, f"{case.page_id[:10]}  R {r:.3f} P {p:.3f}   trafilatura "
                           f"R {br:.3f} P {bp:.3f}   {case.url}"))
    return [text for _, _, text in sorted(rows)[:n]]


ABLATIONS: list[tuple[str, ExtractOptions]] = [
    ("  without gap fill (one trafilatura pass)", ExtractOptions(gap_fill=None)),
    ("  gap fill on every page, not only after a fallback",
     ExtractOptions(gap_fill_always=True)),
    ("  gap fill from favor_recall instead of fast",
     ExtractOptions(gap_fill=TrafilaturaOptions(favor_recall=True))),
    ("  without dropping link-only blocks",
     ExtractOptions(cleanup=CleanupOptions(link_blocks=False))),
    ("  link-only blocks dropped wherever their links lead",
     ExtractOptions(cleanup=CleanupOptions(offsite_links_kept=False))),
    ("  without dropping a trailing list of links home",
     ExtractOptions(cleanup=CleanupOptions(trailing_link_list=False))),
    ("  without joining continuation chunks", ExtractOptions(join_chunks=False)),
    ("  without lifting embedded posts out of widgets", ExtractOptions(lift_embeds=False)),
    ("  without title/standfirst echo removal",
     ExtractOptions(cleanup=CleanupOptions(title_echo=False))),
    ("  main pass favor_precision",
     ExtractOptions(trafilatura=TrafilaturaOptions(favor_precision=True))),
    ("  main pass favor_recall",
     ExtractOptions(trafilatura=TrafilaturaOptions(favor_recall=True))),
    ("  main pass fast (no readability/jusText)",
     ExtractOptions(trafilatura=TrafilaturaOptions(fast=True), gap_fill=None)),
    ("  main pass without tables",
     ExtractOptions(trafilatura=TrafilaturaOptions(include_tables=False))),
    ("  nothing but trafilatura's XML, rendered",
     ExtractOptions(gap_fill=None, cleanup=CleanupOptions(title_echo=False,
                                                          link_blocks=False))),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "tests" / "data" / "corpus",
                        help="a corpus folder (html/*.html.gz and ground-truth.json)")
    parser.add_argument("--ablations", action="store_true",
                        help="also score extract_page with each lever changed")
    parser.add_argument("--halves", action="store_true",
                        help="also give each row's figures on the two fixed halves of the pages")
    parser.add_argument("--passes", type=int, default=3, metavar="N",
                        help="timed passes of each of the first three rows, alternated "
                             "(median)")
    parser.add_argument("--worst", type=int, default=0, metavar="N",
                        help="list the N pages where extract_page has the lowest recall")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # trafilatura logs every page it finds thin

    cases = load_cases(args.corpus)
    with LocalHTTPServer() as server:
        for case in cases:
            server.route(case.path, case.html, content_type="text/html; charset=utf-8")
        results = asyncio.run(fetch_all(server, cases))
        pool_bodies, startup, wall = asyncio.run(extract_in_pool(results))

    print(f"{len(cases)} pages served from 127.0.0.1, fetched with watcher.fetch.Fetcher")
    print(f"{'extractor':<50} {'F1':<14} {'precision':<14} {'recall':<14} ms/page")
    halves = args.halves
    print(row("watcher: fetch + extract_page in WorkerPool(2)", cases, pool_bodies, None))
    detect_language("warm up: the language model loads once per process (about 2 s)")
    (bodies, ms), (baseline, plain_ms), (leaderboard, leaderboard_ms) = timed_alternately(
        [ours(ExtractOptions()), plain(), plain(include_comments=False)], results,
        args.passes)
    assert bodies == pool_bodies, "extract_page differs in and out of the pool"
    print(row("watcher: extract_page in-process", cases, bodies, ms, halves))
    print(row("trafilatura.extract(html), defaults", cases, baseline, plain_ms, halves))
    print(row("trafilatura.extract(html, include_comments=False)", cases, leaderboard,
              leaderboard_ms, halves))
    (df, dp, dr), (sf, sp, sr) = paired_difference(
        [shingle_counts(c.truth, b) for c, b in zip(cases, bodies, strict=True)],
        [shingle_counts(c.truth, b) for c, b in zip(cases, baseline, strict=True)])
    print(f"{'watcher minus trafilatura defaults (paired ±)':<50} {df:+.4f} ±{sf:.3f} "
          f"{dp:+.4f} ±{sp:.3f} {dr:+.4f} ±{sr:.3f} {ms / plain_ms:6.2f}x")
    if args.ablations:
        print("extract_page with one lever changed:")
        for name, options in ABLATIONS:
            changed, ms = timed(ours(options), results)
            print(row(name, cases, changed, ms, halves))
    if args.worst:
        print("lowest recall, extract_page (plain trafilatura beside it):")
        for line in worst(cases, bodies, baseline, args.worst):
            print("  " + line)
    print(f"pool: start-up {startup:.2f} s (fork server + preload), "
          f"{len(cases) / wall:.1f} pages/s on 2 workers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
