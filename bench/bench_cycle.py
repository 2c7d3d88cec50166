"""Full-cycle benchmark: ``python bench/bench_cycle.py [--feeds 40 --entries 25]``.

Starts a local server with FEEDS feeds x ENTRIES entries of real article HTML (the corpus,
each copy made distinct so nothing is deduplicated or learned as boilerplate) and runs
``watcher run --once`` (``store: all``) in a subprocess, a cold start as a user would, for
each rule set asked for:

- ``names``: ``--names`` (100) rules watching for particular stories
  (rulesets.make_rules);
- ``topics``: ``--topics`` (10,000) rules on topic words (rulesets.make_topic_rules),
  about 90 matches per article, so what a match costs downstream (hits, rows) shows.

The baseline, measured in the same run on the same pages: ``trafilatura.extract`` in a
process pool of the same size, fed by one httpx client fetching the pages from the same
server. Each round runs every configuration (checkout, rule set, and with ``--daemon`` the
running daemon) once, with the baseline before the first and after each, and every other
round runs them in reverse order; the rule sets of one checkout and mode run one after the
other, so the two cycles that each "x first set" ratio compares are neighbours. Each
ratio to the baseline is against the mean of the two baselines on either side of that
cycle, so a busy spell on a shared machine, which can move the baseline by a third within
minutes, slows both sides of a ratio rather than one; and a machine that drifts over a
round favours no configuration. The table gives medians over
``--rounds`` with their range. ``--checkouts OLD,NEW`` alternates two source
trees (each run with that tree on PYTHONPATH) to compare code. Printed: articles/s and the
ratio to the baseline's, CPU seconds per article of the whole process tree, the peak memory
of the tree, and each rule set's cycle time and CPU an article against the first's (on
saturated cores the two track each other; the CPU shows that a set's extra time is work, not
waiting). "After start-up" counts the
same articles from the first request the server sees to the end: a running daemon has
started long before its feeds bring work, so this is its rate, where ``run --once`` pays
its start-up (imports, the index's creation, the rules' check, the workers' preload) in
every cycle. ``--daemon`` also times each configuration in a running daemon
(``daemon_cycle.py``): ``watcher run`` started and warmed up on a small feed of its own,
then the benchmark's feeds added to its config; its rows give the cycle's rate from the
first request for those feeds to the last of their articles stored, against the
baseline's from its first request. A second cycle with nothing new (after the first round)
shows the share of conditional requests answered 304.

Each checkout runs with a user cache folder of its own, filled before the first round by an
untimed ``run --once`` with each rule set, so every timed run starts as a user's second run
does: with the language model's copy, the rules' check and their compiled form kept.

Each checkout's ``watcher`` package is byte-compiled first, as installing it does: the
baseline's libraries come compiled, and a tree without its ``__pycache__`` (a fresh
worktree, or ``PYTHONDONTWRITEBYTECODE`` set) would compile every module in the daemon
and in the workers' fork server on every run.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar

import httpx
import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from daemon_cycle import WARM_UP_FEED, DaemonCycle, checkout_env, daemon_cycle  # noqa: E402
from process_tree import FirstRequest, TreeUsage  # noqa: E402
from rulesets import load_articles, make_rules, make_topic_rules, vocabulary  # noqa: E402

from tests.support.data import corpus_page, ground_truth  # noqa: E402
from tests.support.newsroom import Item, rss  # noqa: E402
from tests.support.servers import LocalHTTPServer  # noqa: E402

WARM_UP_PAGES = 4
R = TypeVar("R")
_PARAGRAPH = re.compile(rb"(<p(?:\s[^>]*)?>)", re.IGNORECASE)


def distinct_copy(page: bytes, copy: int) -> bytes:
    # A token at the start of every paragraph: same extraction work, distinct fingerprints.
    # Letters, not digits: a fingerprint reads every number as 0 (extract/boilerplate.py),
    # so numbered copies would be learned as their site's boilerplate after three.
    token = "".join(chr(ord("a") + int(d)) for d in str(copy))
    return _PARAGRAPH.sub(lambda m: m.group(1) + f"[c{token}] ".encode(), page)


def plain_extract(page: bytes) -> int:
    import trafilatura

    return len(trafilatura.extract(page) or "")


def write_rules(path: Path, kind: str, count: int) -> None:
    vocab = vocabulary(load_articles(1000))
    made = (make_rules if kind == "names" else make_topic_rules)(count, vocab)
    path.write_text(yaml.safe_dump({"rules": [
        {"name": r.name, "query": r.query, **({"min_hits": r.min_hits} if r.min_hits > 1 else {})}
        for r in made]}, sort_keys=False, allow_unicode=True), encoding="utf-8")


def run_cycle(server: LocalHTTPServer, config: Path, checkout: Path
              ) -> tuple[float, float, float, int, str]:
    """(wall seconds, seconds from the first request to the end, CPU seconds of all its
    processes, peak tree RSS, output) of one ``watcher run --once`` of the code in
    ``checkout``."""
    first_request = FirstRequest(server)
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "watcher", "run", "--once", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=checkout,
        env=checkout_env(checkout))
    usage = TreeUsage(process.pid)
    output, _ = process.communicate()
    ended = time.perf_counter()
    peak, cpu = usage.stop()
    if process.returncode != 0:
        raise SystemExit(f"watcher run --once failed:\n{output}")
    return ended - started, first_request.seconds_to(ended), cpu, peak, output


@dataclass(frozen=True)
class OnceCycle:
    wall: float
    working: float  # seconds from the first request the server saw to the end
    cpu: float  # CPU seconds of the whole process tree
    peak: int  # peak RSS of the tree, bytes
    stored: int
    matched: int  # articles matched
    matches: int  # matches, all articles together


@dataclass(frozen=True)
class Timed(Generic[R]):
    """A configuration's cycle in a round, and the baseline run just before it (the one
    just after it is the next)."""

    round: int
    baseline: int  # index into all the baselines, in the order they ran
    value: R


def once_cycle(server: LocalHTTPServer, config: Path, checkout: Path) -> OnceCycle:
    """One ``watcher run --once`` of ``checkout`` on ``config``, and what it reported."""
    wall, working, cpu, peak, output = run_cycle(server, config, checkout)
    stored, matched = (int(re.search(rf"articles {what}: (\d+)", output)
                           .group(1))  # type: ignore[union-attr]
                       for what in ("stored", "matched"))
    matches = sum(int(count) for count in re.findall(r"^  \S+: (\d+)$", output, re.MULTILINE))
    return OnceCycle(wall, working, cpu, peak, stored, matched, matches)


def baseline(server: LocalHTTPServer, urls: list[str], workers: int
             ) -> tuple[float, float, float]:
    """(wall, seconds from the first request to the end, CPU seconds of this process and
    its pool) for fetching every URL with one httpx client and extracting each page with
    plain trafilatura in a process pool."""
    me = psutil.Process()
    before = me.cpu_times()
    first_request = FirstRequest(server)
    started = time.perf_counter()

    async def fetch_and_extract(pool: ProcessPoolExecutor) -> None:
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(16)
        async with httpx.AsyncClient() as client:
            async def one(url: str) -> int:
                async with gate:
                    page = (await client.get(url)).content
                return await loop.run_in_executor(pool, plain_extract, page)

            await asyncio.gather(*(one(url) for url in urls))

    with ProcessPoolExecutor(workers) as pool:
        asyncio.run(fetch_and_extract(pool))
    ended = time.perf_counter()
    after = me.cpu_times()  # the pool's workers are reaped, so counted in children_*
    cpu = sum(after[:4]) - sum(before[:4])
    return ended - started, first_request.seconds_to(ended), cpu


def _median_range(values: list[float], digits: int) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return (f"{statistics.median(values):.{digits}f} "
            f"({min(values):.{digits}f}-{max(values):.{digits}f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=40)
    parser.add_argument("--entries", type=int, default=25)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--rules", default="names,topics",
                        help="rule sets, in order: names, topics")
    parser.add_argument("--names", type=int, default=100, help="rules in the names set")
    parser.add_argument("--topics", type=int, default=10_000, help="rules in the topics set")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--checkouts", default=str(ROOT),
                        help="source trees to alternate, comma-separated (default: this one)")
    parser.add_argument("--daemon", action="store_true",
                        help="also time each configuration's cycle in a running daemon")
    args = parser.parse_args()
    kinds = [k for k in args.rules.split(",") if k]
    checkouts = [Path(c).resolve() for c in args.checkouts.split(",") if c]
    for checkout in checkouts:
        compileall.compile_dir(checkout / "watcher", quiet=1)

    pages = [corpus_page(page_id) for page_id in sorted(ground_truth())]
    total = args.feeds * args.entries
    print(f"building {args.feeds} feeds x {args.entries} entries = {total} articles "
          f"from {len(pages)} real pages; {args.workers} workers; store: all")
    bodies = [distinct_copy(pages[i % len(pages)], i) for i in range(total + WARM_UP_PAGES)]
    once: dict[str, list[Timed[OnceCycle]]] = {}
    daemons: dict[str, list[Timed[DaemonCycle]]] = {}
    base: list[tuple[float, float, float]] = []
    second = ""

    with LocalHTTPServer() as server, tempfile.TemporaryDirectory() as folder:
        urls = []
        for feed in range(args.feeds):
            items = []
            for entry in range(args.entries):
                number = feed * args.entries + entry
                path = f"/f{feed}/a{entry}"
                server.route(path, bodies[number])
                urls.append(server.url(path))
                items.append(Item(guid=f"f{feed}-{entry}", path=path, title=f"Story {number}",
                                  summary="summary", published=_when(number)))
            server.route(f"/feed{feed}.xml", rss(items, server),
                         content_type="application/rss+xml")
        feeds = "".join(f"  - name: f{i}\n    url: {server.url(f'/feed{i}.xml')}\n"
                        for i in range(args.feeds))
        warm_up = warm_up_feed(server, bodies[total:])
        for kind in kinds:
            write_rules(Path(folder) / f"{kind}.yaml", kind,
                        args.names if kind == "names" else args.topics)
        # The rule sets of one checkout and mode back to back: the ratio between them is
        # the figure issue 12 sets a target for, and cycles minutes apart drift apart.
        runs = [(checkout, kind, daemon) for checkout in checkouts
                for daemon in ((False, True) if args.daemon else (False,)) for kind in kinds]

        def settings(kind: str) -> str:
            return (f"state_dir: state\nstore: all\nrules: {Path(folder) / kind}.yaml\n"
                    f"network:\n  allow: [127.0.0.1]\n  per_host_min_gap: 0\n"
                    f"  per_host_concurrency: 16\nextract:\n  workers: {args.workers}\n"
                    f"poll:\n  concurrency: 16\n")

        # Untimed: each checkout's cache folder gets what a user's holds after the first
        # run (the language model's copy, the rules' check and their compiled form).
        for checkout in checkouts:
            for kind in kinds:
                config = Path(folder) / f"caches-{checkout.name}-{kind}" / "watcher.yaml"
                config.parent.mkdir()
                config.write_text(f"{settings(kind)}feeds:\n{warm_up}", encoding="utf-8")
                run_cycle(server, config, checkout)
        for round_number in range(args.rounds):
            base.append(baseline(server, urls, args.workers))
            # Every other round in reverse: a machine that slows or speeds up over a round
            # favours no configuration, and each is timed between two baselines.
            for checkout, kind, daemon in runs if round_number % 2 == 0 else runs[::-1]:
                run = Path(folder) / f"r{round_number}-{checkout.name}-{kind}"
                before = len(base) - 1
                label = f"round {round_number + 1} {checkout.name} {kind}"
                if daemon:
                    config = run / "daemon" / "watcher.yaml"
                    config.parent.mkdir(parents=True)
                    cycle = daemon_cycle(
                        server, config, base=settings(kind), warm_up=warm_up, feeds=feeds,
                        feed_names=[f"f{i}" for i in range(args.feeds)], total=total,
                        checkout=checkout)
                    daemons.setdefault(f"{checkout.name}:{kind}", []).append(
                        Timed(round_number, before, cycle))
                    print(f"{label}, running daemon: {cycle.stored} articles in "
                          f"{cycle.seconds:.1f} s", flush=True)
                else:
                    config = run / "watcher.yaml"
                    config.parent.mkdir(parents=True, exist_ok=True)
                    config.write_text(f"{settings(kind)}feeds:\n{feeds}")
                    result = once_cycle(server, config, checkout)
                    once.setdefault(f"{checkout.name}:{kind}", []).append(
                        Timed(round_number, before, result))
                    if not second:
                        second = second_cycle(server, config, checkout)
                    print(f"{label}: {result.stored} articles, {result.matched} matched, "
                          f"{result.matches / max(result.matched, 1):.1f} matches per "
                          f"matched article, in {result.wall:.1f} s", flush=True)
                base.append(baseline(server, urls, args.workers))

    base_rate = [total / wall for wall, _, _ in base]
    base_working = [total / working for _, working, _ in base]
    base_cpu = [cpu / total for _, _, cpu in base]
    print()
    print(f"{'':30}{'articles/s':>22}{'x baseline':>20}{'after start-up':>22}"
          f"{'x baseline':>20}{'CPU s/article':>26}{'peak MiB':>10}{'time x first set':>22}"
          f"{'CPU x first set':>22}")
    print(f"{'baseline (httpx + trafilatura)':30}{_median_range(base_rate, 1):>22}{'':>20}"
          f"{_median_range(base_working, 1):>22}{'':>20}{_median_range(base_cpu, 4):>26}")
    for checkout in checkouts:
        firsts = once[f"{checkout.name}:{kinds[0]}"]
        first = {t.round: t.value.wall for t in firsts}
        first_cpu = {t.round: t.value.cpu / t.value.stored for t in firsts}
        for kind in kinds:
            timed = once[f"{checkout.name}:{kind}"]
            rates = [t.value.stored / t.value.wall for t in timed]
            working_rates = [t.value.stored / t.value.working for t in timed]
            cpus = [t.value.cpu / t.value.stored for t in timed]
            against_first = [t.value.wall / first[t.round] for t in timed]
            cpu_against_first = [t.value.cpu / t.value.stored / first_cpu[t.round] for t in timed]
            peak_mib = max(t.value.peak for t in timed) / 2**20
            print(f"{checkout.name + ' ' + kind:30}{_median_range(rates, 1):>22}"
                  f"{_median_range(_against(timed, rates, base_rate), 2):>20}"
                  f"{_median_range(working_rates, 1):>22}"
                  f"{_median_range(_against(timed, working_rates, base_working), 2):>20}"
                  f"{_median_range(cpus, 4):>26}"
                  f"{peak_mib:>10.0f}{_median_range(against_first, 2):>22}"
                  f"{_median_range(cpu_against_first, 2):>22}")
    if daemons:
        print(_daemon_rows(daemons, checkouts, kinds, base_working))
    print()
    print(second)


def warm_up_feed(server: LocalHTTPServer, pages: list[bytes]) -> str:
    """The running daemon's first feed: a few pages of its own, so that before it is
    timed the workers have parsed a feed and extracted pages, as a daemon's have."""
    items = []
    for number, page in enumerate(pages):
        path = f"/warm-up/a{number}"
        server.route(path, page)
        items.append(Item(guid=f"warm-up-{number}", path=path, title=f"Warm-up {number}",
                          summary="summary", published=_when(number)))
    server.route("/warm-up.xml", rss(items, server), content_type="application/rss+xml")
    return f"  - name: {WARM_UP_FEED}\n    url: {server.url('/warm-up.xml')}\n"


def _daemon_rows(daemons: dict[str, list[Timed[DaemonCycle]]], checkouts: list[Path],
                 kinds: list[str], base_working: list[float]) -> str:
    """The running daemon's cycles against the baseline's from its first request."""
    lines = []
    for checkout in checkouts:
        firsts = daemons[f"{checkout.name}:{kinds[0]}"]
        first = {t.round: t.value.seconds for t in firsts}
        first_cpu = {t.round: t.value.cpu / t.value.stored for t in firsts}
        for kind in kinds:
            timed = daemons[f"{checkout.name}:{kind}"]
            rates = [t.value.stored / t.value.seconds for t in timed]
            cpus = [t.value.cpu / t.value.stored for t in timed]
            against_first = [t.value.seconds / first[t.round] for t in timed]
            cpu_against_first = [t.value.cpu / t.value.stored / first_cpu[t.round] for t in timed]
            peak_mib = max(t.value.peak for t in timed) / 2**20
            lines.append(f"{checkout.name + ' ' + kind + ' daemon':30}"
                         f"{'':>22}{'':>20}{_median_range(rates, 1):>22}"
                         f"{_median_range(_against(timed, rates, base_working), 2):>20}"
                         f"{_median_range(cpus, 4):>26}"
                         f"{peak_mib:>10.0f}{_median_range(against_first, 2):>22}"
                         f"{_median_range(cpu_against_first, 2):>22}")
    return "\n".join(lines)


def _against(timed: list[Timed[Any]], rates: list[float], base: list[float]) -> list[float]:
    """Each rate against the mean of the two baselines run just before and just after it."""
    return [rate / ((base[t.baseline] + base[t.baseline + 1]) / 2)
            for t, rate in zip(timed, rates, strict=True)]


def second_cycle(server: LocalHTTPServer, config: Path, checkout: Path) -> str:
    """A cycle with nothing new: its time and the share of feed requests answered 304."""
    requests_before = len(server.requests)
    wall, _working, _cpu, peak, output = run_cycle(server, config, checkout)
    later = server.requests[requests_before:]
    feed_requests = [r for r in later if r.path.startswith("/feed")]
    not_modified = sum(1 for r in feed_requests if r.headers.get("if-none-match"))
    return (f"second cycle: {wall:.1f} s, {len(feed_requests)} feed requests, "
            f"{not_modified / max(len(feed_requests), 1):.0%} conditional (answered 304), "
            f"{len(later) - len(feed_requests)} page requests, peak {peak / 2**20:.0f} MiB; "
            + output.strip().replace("\n", "; "))


def _when(number: int) -> datetime:
    return datetime(2026, 11, 23, tzinfo=UTC) - timedelta(minutes=number)


if __name__ == "__main__":
    main()
