"""Instructions, not seconds: ``python bench/bench_instructions.py [--sizes 6,100]``.

On a shared machine a cycle's time and CPU move from one hour to the next by more than the
10,000 topic rules add (docs/performance.md). This counts the work instead: ``watcher run
--once`` runs under ``valgrind --tool=callgrind``, which counts the instructions of every
process it starts the same way whatever else the machine does, on the benchmark's pages
(bench_cycle's world, served locally) for each rule set at two sizes. Their difference
gives what an article costs and what the start costs, by process:

- the daemon's own process;
- the workers' fork server (its imports and the rules' preload);
- the workers, each less its fork server's count, which callgrind copies into a forked
  process;
- the rest (multiprocessing's resource tracker).

Printed: the counts, each rule set's instructions an article and at its start, and the
topics' against the names' for a ``run --once`` of 1,000 articles and for a running daemon
(which has started already: articles only). What instructions do not count is the time each
takes (cache misses above all), which is why this complements bench_cycle.py rather than
replaces it. Each checkout's cache folder is filled first, by a run outside valgrind.
About 2.5 minutes a run at 100 articles; needs valgrind (Debian's ``valgrind``).
"""

from __future__ import annotations

import argparse
import itertools
import math
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_cycle import _when, distinct_copy, write_rules
from daemon_cycle import checkout_env

from tests.support.data import corpus_page, ground_truth
from tests.support.newsroom import Item, rss
from tests.support.servers import LocalHTTPServer

ROOT = Path(__file__).resolve().parent.parent
PER_FEED = 10  # entries a feed at most
ROLES = ("daemon", "fork server", "workers", "rest")
_TOTAL = re.compile(rb"^(?:summary|totals): (\d+)", re.MULTILINE)
_PID = re.compile(rb"^pid: (\d+)", re.MULTILINE)
_CMD = re.compile(rb"^cmd: (.*)$", re.MULTILINE)


@dataclass(frozen=True)
class Counted:
    """Instructions of one run by role, and the articles it stored."""

    by_role: dict[str, int]
    stored: int

    @property
    def total(self) -> int:
        return sum(self.by_role.values())


def read_counts(folder: Path) -> dict[str, int]:
    """Instructions by role from callgrind's files (one a process) in ``folder``."""
    found: list[tuple[int, bytes, int]] = []
    for path in folder.glob("*.out"):
        text = path.read_bytes()
        total, pid, command = _TOTAL.search(text), _PID.search(text), _CMD.search(text)
        if total and pid and command:
            found.append((int(pid.group(1)), command.group(1), int(total.group(1))))
    forked = sorted((pid, count) for pid, cmd, count in found
                    if b"multiprocessing.forkserver" in cmd)
    by_role = dict.fromkeys(ROLES, 0)
    if forked:
        # The server is the first of them (the lowest pid); each worker is its fork and
        # starts with the server's count.
        server = forked[0][1]
        by_role["fork server"] = server
        by_role["workers"] = sum(count - server for _, count in forked[1:])
    for _, cmd, count in found:
        if b"multiprocessing.forkserver" in cmd:
            continue
        by_role["daemon" if b"-m watcher run" in cmd else "rest"] += count
    return by_role


def count_run(config: Path, checkout: Path, folder: Path) -> Counted:
    """``watcher run --once`` on ``config`` under callgrind, its files in ``folder``."""
    folder.mkdir()
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--trace-children=yes", "--dump-instr=no",
         f"--callgrind-out-file={folder}/%p.out", sys.executable, "-m", "watcher", "run",
         "--once", "--config", str(config)],
        capture_output=True, text=True, cwd=checkout, check=False,
        # one hash seed for every run: sets and dicts then iterate alike from one to the next
        env={**checkout_env(checkout), "PYTHONHASHSEED": "0"})
    if done.returncode != 0:
        raise SystemExit(f"watcher run --once failed under valgrind:\n{done.stdout[-2000:]}"
                         f"\n{done.stderr[-2000:]}")
    stored = re.search(r"articles stored: (\d+)", done.stdout)
    return Counted(read_counts(folder), int(stored.group(1)) if stored else 0)


def serve(server: LocalHTTPServer, name: str, pages: list[bytes]) -> str:
    """Feeds of ``PER_FEED`` entries at most for ``pages``; their lines for watcher.yaml."""
    lines = []
    for feed in range(math.ceil(len(pages) / PER_FEED)):
        items = []
        for entry, page in enumerate(pages[feed * PER_FEED:(feed + 1) * PER_FEED]):
            path = f"/{name}/f{feed}/a{entry}"
            server.route(path, page)
            items.append(Item(guid=f"{name}-{feed}-{entry}", path=path, title=f"Story {entry}",
                              summary="summary", published=_when(entry)))
        server.route(f"/{name}/feed{feed}.xml", rss(items, server),
                     content_type="application/rss+xml")
        lines.append(f"  - name: {name}-f{feed}\n"
                     f"    url: {server.url(f'/{name}/feed{feed}.xml')}\n")
    return "".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="6,100", help="articles in the two runs")
    parser.add_argument("--rules", default="names,topics")
    parser.add_argument("--names", type=int, default=100, help="rules in the names set")
    parser.add_argument("--topics", type=int, default=10_000, help="rules in the topics set")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--checkout", default=str(ROOT))
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    small, large = sorted(int(size) for size in args.sizes.split(","))
    kinds = [kind for kind in args.rules.split(",") if kind]
    checkout = Path(args.checkout).resolve()
    pages = [corpus_page(page_id) for page_id in sorted(ground_truth())]
    copies = itertools.count()  # each page copy distinct across runs: none is a duplicate

    def distinct(count: int) -> list[bytes]:
        return [distinct_copy(pages[number % len(pages)], next(copies))
                for number in range(count)]

    counted: dict[tuple[str, int], Counted] = {}
    with LocalHTTPServer() as server, tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        for kind in kinds:
            write_rules(base / f"{kind}.yaml", kind,
                        args.names if kind == "names" else args.topics)

        def config(name: str, kind: str, feeds: str) -> Path:
            path = base / name / "watcher.yaml"
            path.parent.mkdir()
            path.write_text(
                f"state_dir: state\nstore: all\nrules: {base / kind}.yaml\nnetwork:\n"
                f"  allow: [127.0.0.1]\n  per_host_min_gap: 0\n  per_host_concurrency: 16\n"
                f"extract:\n  workers: {args.workers}\n  timeout: 600\npoll:\n"
                f"  concurrency: 16\nfeeds:\n{feeds}", encoding="utf-8")
            return path

        for kind in kinds:
            # Untimed and outside valgrind: the cache gets the language model's copy, the
            # rules' check and their compiled form, as a user's second run finds them.
            subprocess.run([sys.executable, "-m", "watcher", "run", "--once", "--config",
                            str(config(f"warm-{kind}", kind, serve(server, f"warm-{kind}",
                                                                   distinct(2))))],
                           capture_output=True, cwd=checkout, env=checkout_env(checkout),
                           check=True)
            for size in (small, large):
                name = f"{kind}-{size}"
                counted[kind, size] = count_run(
                    config(name, kind, serve(server, name, distinct(size))), checkout,
                    base / f"callgrind-{name}")
                print(f"counted {kind} at {size} articles: "
                      f"{counted[kind, size].total / 1e9:.3f} G "
                      f"instructions, {counted[kind, size].stored} stored", flush=True)
    report(counted, kinds, small, large)


def report(counted: dict[tuple[str, int], Counted], kinds: list[str], small: int,
           large: int) -> None:
    print()
    print(f"{'instructions (G)':28}" + "".join(f"{role:>14}" for role in (*ROLES, "all")))
    for (kind, size), found in counted.items():
        print(f"{f'{kind}, {size} articles':28}"
              + "".join(f"{found.by_role[role] / 1e9:14.3f}" for role in ROLES)
              + f"{found.total / 1e9:14.3f}")
    print()
    slopes: dict[str, float] = {}
    starts: dict[str, float] = {}
    for kind in kinds:
        few, many = counted[kind, small], counted[kind, large]
        articles = many.stored - few.stored
        slope = (many.total - few.total) / articles
        slopes[kind], starts[kind] = slope, few.total - slope * few.stored
        per_role = ", ".join(
            f"{role} {(many.by_role[role] - few.by_role[role]) / articles / 1e6:.1f}"
            for role in ROLES)
        print(f"{kind}: {slope / 1e6:.1f} M an article ({per_role}), "
              f"{starts[kind] / 1e9:.2f} G at the start")
    first = kinds[0]
    for kind in kinds[1:]:
        once = [starts[k] + 1000 * slopes[k] for k in (first, kind)]
        print(f"{kind} against {first}: an article {slopes[kind] / slopes[first]:.3f}x; "
              f"the start {(starts[kind] - starts[first]) / 1e9:+.2f} G; a run --once of "
              f"1,000 articles {once[1] / 1e9:.0f} against {once[0] / 1e9:.0f} G, "
              f"{once[1] / once[0]:.3f}x; a running daemon {slopes[kind] / slopes[first]:.3f}x")


if __name__ == "__main__":
    main()
