"""The site's memory per article as a site's history grows: ``python bench/bench_site_memory.py``.

Each article of a site is observed once (``Store.boilerplate.observe_article``, in a
transaction of its own, as the pipeline's batches are when articles come one at a time:
record its paragraphs' fingerprints, answer which are the site's boilerplate, read the
site's typical length, record the article's). A real site
repeats a few boilerplate paragraphs (an appeal, a newsletter box) on every article, so
their sightings grow with the site's history inside the window.

For each ``--history`` (articles of one site already seen, in a fresh SQLite index): the
CPU of observing ``--articles`` more, each with ``--own`` paragraphs of its own and
``--shared`` the site repeats everywhere. The baseline, measured in the same run on the same
index: reading the site's counts whole (``known``), which counts every sighting in the
window, as the per-article answer did before it probed for the n-th sighting instead.
Printed per history: ms per observation and per whole count, median over ``--rounds``
(alternated), and each one's ratio to the smallest history's.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from watcher.config import load_config  # noqa: E402
from watcher.store import Store  # noqa: E402

SITE = "news.example"
WINDOW = timedelta(days=30)
MIN_ARTICLES = 3
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _article(rng: random.Random, own: int, shared: list[str]) -> tuple[str, set[str]]:
    return (f"{rng.getrandbits(64):016x}",
            {f"{rng.getrandbits(64):016x}" for _ in range(own)} | set(shared))


def _length_without(boilerplate: frozenset[str]) -> int:
    return 2000  # the pipeline sums the cleaned paragraphs; its cost is not the store's


def _observe(store: Store, articles: list[tuple[str, set[str]]]) -> float:
    started = time.process_time()
    for key, prints in articles:
        store.boilerplate.observe_article(SITE, key, prints, NOW, min_articles=MIN_ARTICLES,
                                          window=WINDOW, length_without=_length_without)
    return (time.process_time() - started) / len(articles)


def _count(store: Store, repeat: int) -> float:
    started = time.process_time()
    for _ in range(repeat):
        store.boilerplate.known(SITE, MIN_ARTICLES, NOW - WINDOW)
    return (time.process_time() - started) / repeat


def measure(history: int, args: argparse.Namespace, folder: Path) -> tuple[float, float]:
    rng = random.Random(history)
    shared = [f"{rng.getrandbits(64):016x}" for _ in range(args.shared)]
    state = folder / f"h{history}"
    state.mkdir()
    (state / "rules.yaml").write_text("rules: []\n", encoding="utf-8")
    (state / "watcher.yaml").write_text("state_dir: state\nfeeds: []\n", encoding="utf-8")
    observe: list[float] = []
    count: list[float] = []
    with Store.open(load_config(state / "watcher.yaml")) as store:
        _observe(store, [_article(rng, args.own, shared) for _ in range(history)])
        for round_number in range(args.rounds):
            batch = [_article(rng, args.own, shared) for _ in range(args.articles)]
            if round_number % 2:
                count.append(_count(store, 20))
                observe.append(_observe(store, batch))
            else:
                observe.append(_observe(store, batch))
                count.append(_count(store, 20))
    return statistics.median(observe), statistics.median(count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--history", default="500,2000,8000",
                        help="articles of the site seen before, comma-separated")
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--own", type=int, default=20)
    parser.add_argument("--shared", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(size) for size in args.history.split(",") if size]
    print(f"one site, {args.own} own + {args.shared} shared paragraphs an article, "
          f"min_articles {MIN_ARTICLES}, {args.articles} articles a round, "
          f"{args.rounds} rounds")
    print(f"{'history':>8} {'observe ms':>11} {'x first':>8} {'whole count ms':>15} {'x first':>8}")
    first: tuple[float, float] | None = None
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes:
            observe, count = measure(size, args, Path(folder))
            first = first or (observe, count)
            print(f"{size:>8} {observe * 1000:>11.3f} {observe / first[0]:>8.2f} "
                  f"{count * 1000:>15.3f} {count / first[1]:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
