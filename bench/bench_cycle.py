"""Full-cycle benchmark: ``python bench/bench_cycle.py [--feeds 200 --entries 25]``.

Starts a local server with FEEDS feeds x ENTRIES entries of real article HTML (the
corpus, each copy made distinct so nothing is deduplicated or learned as boilerplate), runs
``watcher run --once`` in a subprocess (a cold start, as a user would), then a second cycle
with nothing new. Prints articles/s and CPU seconds per article against a baseline measured
in the same run: plain ``trafilatura.extract`` of the same pages in a process pool of the
same size. Also the second cycle's time and share of 304 answers, and peak memory.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.data import corpus_page, ground_truth  # noqa: E402
from tests.support.newsroom import Item, rss  # noqa: E402
from tests.support.servers import LocalHTTPServer  # noqa: E402

_PARAGRAPH = re.compile(rb"(<p(?:\s[^>]*)?>)", re.IGNORECASE)


def distinct_copy(page: bytes, copy: int) -> bytes:
    # A token at the start of every paragraph: same extraction work, distinct fingerprints.
    return _PARAGRAPH.sub(lambda m: m.group(1) + f"[c{copy}] ".encode(), page)


def plain_extract(page: bytes) -> int:
    import trafilatura

    return len(trafilatura.extract(page) or "")


class TreeUsage:
    """Peak resident memory and total CPU of a process and all its descendants, sampled.

    The worker processes are children of multiprocessing's fork server, not of the watcher,
    so the watcher's own rusage would miss them; sampling the whole tree does not (each
    process's CPU is counted up to its last sample, at most one interval short).
    """

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                tree = [self.process, *self.process.children(recursive=True)]
            except psutil.Error:
                tree = []
            rss = 0
            for proc in tree:
                try:
                    times = proc.cpu_times()
                    rss += proc.memory_info().rss
                except psutil.Error:
                    continue
                self.cpu[proc.pid] = times.user + times.system
            self.peak = max(self.peak, rss)
            time.sleep(self.interval)

    def stop(self) -> tuple[int, float]:
        self._stop.set()
        self._thread.join()
        return self.peak, sum(self.cpu.values())


def run_cycle(config: Path) -> tuple[float, float, int, str]:
    """(wall seconds, CPU seconds of all its processes, peak tree RSS, output) of one
    ``watcher run --once``."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "watcher", "run", "--once", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    usage = TreeUsage(process.pid)
    output, _ = process.communicate()
    wall = time.perf_counter() - started
    peak, cpu = usage.stop()
    if process.returncode != 0:
        raise SystemExit(f"watcher run --once failed:\n{output}")
    return wall, cpu, peak, output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--entries", type=int, default=25)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()

    pages = [corpus_page(page_id) for page_id in sorted(ground_truth())]
    total = args.feeds * args.entries
    print(f"building {args.feeds} feeds x {args.entries} entries = {total} articles "
          f"from {len(pages)} real pages; {args.workers} workers")
    bodies = [distinct_copy(pages[i % len(pages)], i) for i in range(total)]

    with LocalHTTPServer() as server, tempfile.TemporaryDirectory() as folder:
        for feed in range(args.feeds):
            items = []
            for entry in range(args.entries):
                number = feed * args.entries + entry
                path = f"/f{feed}/a{entry}"
                server.route(path, bodies[number])
                items.append(Item(guid=f"f{feed}-{entry}", path=path, title=f"Story {number}",
                                  summary="summary", published=_when(number)))
            server.route(f"/feed{feed}.xml", rss(items, server),
                         content_type="application/rss+xml")
        config = Path(folder) / "watcher.yaml"
        (Path(folder) / "rules.yaml").write_text(
            "rules:\n  - name: government\n    query: 'government OR minister*'\n"
            "  - name: defect\n    query: 'defect* NEAR/5 (Russia* OR Soviet)'\n")
        feeds = "".join(f"  - name: f{i}\n    url: {server.url(f'/feed{i}.xml')}\n"
                        for i in range(args.feeds))
        config.write_text(
            f"state_dir: state\nrules: rules.yaml\nnetwork:\n  allow: [127.0.0.1]\n"
            f"  per_host_min_gap: 0\n  per_host_concurrency: 16\nextract:\n"
            f"  workers: {args.workers}\npoll:\n  concurrency: 16\nfeeds:\n{feeds}")

        wall, cpu, peak, output = run_cycle(config)
        stored = int(re.search(r"articles stored: (\d+)", output).group(1))  # type: ignore[union-attr]
        requests_before = len(server.requests)
        wall2, _cpu2, peak2, output2 = run_cycle(config)
        second = server.requests[requests_before:]
        feed_requests = [r for r in second if r.path.startswith("/feed")]
        not_modified = sum(1 for r in feed_requests if r.headers.get("if-none-match"))

    started = time.perf_counter()
    before = psutil.Process().cpu_times()
    with ProcessPoolExecutor(args.workers) as pool:
        list(pool.map(plain_extract, bodies, chunksize=8))
    base_wall = time.perf_counter() - started
    base_cpu = sum(c.user + c.system for c in [psutil.Process().cpu_times()]) - (
        before.user + before.system)
    # children's CPU is only accounted once they are reaped; the pool has exited here.
    children = psutil.Process().cpu_times()
    base_cpu = (children.children_user + children.children_system) - (
        before.children_user + before.children_system) + base_cpu

    ours_rate, base_rate = stored / wall, total / base_wall
    print()
    print(f"{'':34}{'watcher --once':>16}{'plain trafilatura':>20}{'ratio':>8}")
    print(f"{'articles':34}{stored:>16}{total:>20}")
    print(f"{'wall seconds':34}{wall:>16.1f}{base_wall:>20.1f}")
    print(f"{'articles per second':34}{ours_rate:>16.1f}{base_rate:>20.1f}"
          f"{ours_rate / base_rate:>8.2f}")
    print(f"{'CPU seconds per article':34}{cpu / stored:>16.4f}{base_cpu / total:>20.4f}"
          f"{(cpu / stored) / (base_cpu / total):>8.2f}")
    print(f"{'peak memory, all processes (MiB)':34}{peak / 2**20:>16.0f}")
    print()
    print(f"second cycle: {wall2:.1f} s, {len(feed_requests)} feed requests, "
          f"{not_modified / max(len(feed_requests), 1):.0%} conditional (answered 304), "
          f"{len(second) - len(feed_requests)} page requests, peak {peak2 / 2**20:.0f} MiB")
    print(output2.strip().replace("\n", "; "))


def _when(number: int) -> datetime:
    return datetime(2026, 11, 23, tzinfo=UTC) - timedelta(minutes=number)


if __name__ == "__main__":
    main()
