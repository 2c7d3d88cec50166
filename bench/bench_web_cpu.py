"""CPU of cold pages, in-process: ``python bench/bench_web_cpu.py [--tree DIR ...]``.

Fills an index as ``bench_web.py`` does (100,000 articles, 20,000 matches), then asks the
web app, in a process of its own per tree, for REQUESTS cold requests of each kind
(``bench_web.cold_urls``: a page of matches or a tester search at a random depth, which no
cache can answer) through its ASGI interface (routing, middleware, the endpoint on the
thread pool, rendering; no HTTP parsing) and measures each one's CPU time
(``time.process_time``: every thread of the process). CPU time stands still while other
processes run, so two versions can be compared on a busy machine: the trees (``--tree``,
repeatable; this checkout by default) are alternated for ROUNDS rounds, each round asking
the same requests, and p50/p99 are printed per round and as the median of the rounds with
their range, with the full collections of the garbage collector meanwhile (a pause added to
the request it falls in, so what a p99 is made of). ``bench_web.py`` measures the same
pages' wall time through the real server.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The worker imports watcher from the tree it measures (first on the path), and the
# benchmark's own helpers from this checkout.
sys.path[:0] = [os.environ.get("BENCH_WEB_TREE", str(ROOT)), str(ROOT / "bench"), str(ROOT)]
# before ``bench_web``, which puts this checkout first on the path
importlib.import_module("watcher")

from bench_web import KINDS, cold_urls, fill_index, rules_yaml  # noqa: E402

import watcher  # noqa: E402
from watcher.config import load_config  # noqa: E402
from watcher.store import Store  # noqa: E402


async def _get(app: Any, url: str) -> int:
    path, _, query = url.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": query.encode(), "root_path": "", "headers": [(b"host", b"b")],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return int(sent[0]["status"])


def worker(folder: Path, requests: int, seed: int, articles: int) -> None:
    """Print, as JSON, the CPU seconds of each cold request, per kind."""
    from watcher.rules import load_rules
    from watcher.web.app import create_app

    config = load_config(folder / "watcher.yaml")
    rules = load_rules(config.rules_path)
    rng = random.Random(seed)
    urls = [cold_urls(rng, articles) for _ in range(requests)]
    seconds: dict[str, list[float]] = {kind: [] for kind in KINDS}
    pauses: list[float] = []  # the CPU seconds of each full collection while measuring
    started_at = [0.0]

    def collections(phase: str, info: dict[str, int]) -> None:
        if info["generation"] == 2:
            if phase == "start":
                started_at[0] = time.process_time()
            else:
                pauses.append(time.process_time() - started_at[0])

    loop = asyncio.new_event_loop()
    with Store.open(config) as store:
        app = create_app(store, lambda: rules, config)
        # as the web process of ``watcher run`` does before it serves (trees that have it)
        getattr(importlib.import_module("watcher.web.process"), "freeze_start_up", bool)()
        for url in ("/", "/rules?q=x", "/api/matches"):  # imports, templates
            loop.run_until_complete(_get(app, url))
        gc.callbacks.append(collections)
        for triple in urls:
            for kind, url in zip(KINDS, triple, strict=True):
                started = time.process_time()
                status = loop.run_until_complete(_get(app, url))
                seconds[kind].append(time.process_time() - started)
                if status != 200:
                    raise SystemExit(f"{url}: HTTP {status}")
    gc.callbacks.remove(collections)
    loop.close()
    print(json.dumps({"tree": str(Path(watcher.__file__).resolve().parents[1]),
                      "seconds": seconds, "pauses": pauses}))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--matches", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=200, help="per kind and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tree", type=Path, action="append",
                        help="a watcher checkout to measure (repeatable; default: this one)")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=7, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.worker, args.requests, args.seed, args.articles)
        return
    trees: list[Path] = [tree.resolve() for tree in args.tree or [ROOT]]
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "state").mkdir()
        (folder / "rules.yaml").write_text(rules_yaml(), encoding="utf-8")
        (folder / "watcher.yaml").write_text("state_dir: state\nrules: rules.yaml\n")
        with Store.open(load_config(folder / "watcher.yaml")) as store:
            fill_index(store, args.articles, args.matches)
        print(f"index: {args.articles} articles, {args.matches} matches; {args.requests} cold "
              f"requests of each kind per round, {args.rounds} rounds, trees alternated")
        # tree -> kind -> one (p50, p99) per round
        figures: dict[Path, dict[str, list[tuple[float, float]]]] = {
            tree: {kind: [] for kind in KINDS} for tree in trees}
        for round_number in range(args.rounds):
            for tree in trees:
                done = subprocess.run(
                    [sys.executable, __file__, "--worker", str(folder), "--requests",
                     str(args.requests), "--seed", str(7 + round_number), "--articles",
                     str(args.articles)], capture_output=True, text=True, check=False,
                    cwd=tree, env={**os.environ, "BENCH_WEB_TREE": str(tree),
                                   "PYTHONPATH": str(tree)})
                if done.returncode != 0:
                    raise SystemExit(f"{tree}: {done.stderr[-3000:]}")
                measured = json.loads(done.stdout.splitlines()[-1])
                if measured["tree"] != str(tree):
                    raise SystemExit(f"the worker for {tree} ran {measured['tree']}")
                seconds = measured["seconds"]
                for kind in KINDS:
                    figures[tree][kind].append((percentile(seconds[kind], 0.5),
                                                percentile(seconds[kind], 0.99)))
                shown = "  ".join(f"{kind} {figures[tree][kind][-1][0]:.1f}/"
                                  f"{figures[tree][kind][-1][1]:.1f}" for kind in KINDS)
                pauses = measured["pauses"]
                print(f"  round {round_number + 1}, {tree}: p50/p99 ms CPU: {shown}; "
                      f"{len(pauses)} full collections of the garbage collector"
                      + (f", longest {max(pauses) * 1000:.0f} ms" if pauses else ""))
    print()
    print("CPU milliseconds per cold request: median of the rounds [lowest-highest]")
    for tree in trees:
        print(tree)
        for kind in KINDS:
            rounds = figures[tree][kind]
            cells = []
            for index, label in ((0, "p50"), (1, "p99")):
                values = [r[index] for r in rounds]
                cells.append(f"{label} {statistics.median(values):6.1f} "
                             f"[{min(values):.1f}-{max(values):.1f}]")
            print(f"  {kind + ', cold':22}{'   '.join(cells)}")


if __name__ == "__main__":
    main()
