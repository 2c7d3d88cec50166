"""Web benchmark: ``python bench/bench_web.py [--articles 100000 --matches 20000]``.

Fills an index with ARTICLES articles (paragraphs of the real dev corpus, recombined so
each is distinct) and MATCHES matches over ten rules, then runs ``watcher run`` with its
web server on that index (a copy per run) polling a local world of FEEDS x ENTRIES real
pages. Prints:

- p50/p99 of ``/`` (filters and pages), the rule tester and ``/api/matches``, one request at
  a time on the idle daemon: cold (requests no cache can answer) and warm (the realistic
  mix: ``realistic_urls``) (goal: p99 < 100 ms);
- the same pages' p50/p99 while CLIENTS concurrent clients hammer them during polling;
- articles stored per second while the pages are hammered, against runs of the same
  daemon without clients, alternated in one session (goal: within 5%).

``--trees A,B`` alternates the daemon of several checkouts run by run, so two versions are
compared on the same index and world in one session.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_cycle import distinct_copy  # noqa: E402
from cpu_roles import ROLES, cpu_seconds, cpu_used  # noqa: E402

from tests.support.data import corpus_page, ground_truth  # noqa: E402
from tests.support.local import free_port  # noqa: E402
from tests.support.newsroom import Item, rss  # noqa: E402
from tests.support.servers import LocalHTTPServer  # noqa: E402
from watcher.config import load_config  # noqa: E402
from watcher.store import Store  # noqa: E402
from watcher.store.schema import articles, matches  # noqa: E402

RULE_WORDS = ("government", "minister", "police", "election", "president", "court",
              "military", "economy", "climate", "health")
QUERIES = ("government AND minister*", "police NEAR/5 court", '"prime minister"',
           "election OR president*", "climate AND NOT health")


def rules_yaml() -> str:
    return "rules:\n" + "".join(f"  - name: r-{w}\n    query: '{w}'\n    tags: [t{i % 3}]\n"
                                for i, w in enumerate(RULE_WORDS))


def paragraphs() -> list[str]:
    pool: list[str] = []
    for page in ground_truth().values():
        pool.extend(p for p in page["articleBody"].split("\n") if len(p) > 80)
    return pool


def fill_index(store: Store, total: int, matched: int, seed: int = 1) -> None:
    """``total`` articles over the last 30 days, ``matched`` matches over the rules."""
    rng = random.Random(seed)
    pool = paragraphs()
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    match_rows: list[dict[str, Any]] = []
    matched_numbers = sorted(rng.sample(range(1, total + 1), k=min(total, matched * 4 // 5)))
    for number in range(1, total + 1):
        body = "\n".join(rng.sample(pool, 3)) + f"\nReference {number}."
        fetched = now - timedelta(seconds=(total - number) * 30 * 86400 / total)
        url = f"https://site{number % 50}.example/news/{number}"
        rows.append({"number": number, "url": url, "canonical_url": url,
                     "url_hash": f"{number:016x}", "feed": f"archive-{number % 200}",
                     "site": f"site{number % 50}.example", "entry_id": str(number),
                     "title": body.split(".")[0][:120], "description": "", "body": body,
                     "author": "", "language": "en", "published": fetched,
                     "fetched": fetched, "text_source": "page", "file_name": None})
    made = 0
    for number in matched_numbers:
        text: str = rows[number - 1]["body"]
        for word in rng.sample(RULE_WORDS, 2 if made < matched - len(matched_numbers) else 1):
            at = max(text.find(word), 0)
            match_rows.append({"article_number": number, "rule": f"r-{word}",
                               "hits": [["body", at, at + len(word), word]],
                               "matched_at": rows[number - 1]["fetched"], "origin": "live"})
            made += 1
            if made >= matched:
                break
    with store.engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(articles.insert(), rows[start:start + 5000])
        conn.execute(matches.insert(), match_rows)


KINDS = ("/", "tester", "/api/matches")


def cold_urls(rng: random.Random, total: int) -> list[str]:
    """One request of each kind that no cache can answer: a page of matches and a tester
    search starting at a random depth of the archive (the first request after a change
    pays this too, or a reader paging far back)."""
    rule = f"r-{rng.choice(RULE_WORDS)}"
    return [
        rng.choice([f"/?before={rng.randrange(total // 2, total)}",
                    f"/?rule={rule}&before={rng.randrange(total // 2, total)}",
                    f"/?tag=t{rng.randrange(3)}&before={rng.randrange(total // 2, total)}"]),
        f"/rules?q={rng.choice(QUERIES)}&before={rng.randrange(total // 2, total)}",
        f"/api/matches?rule={rule}&before={rng.randrange(total)}",
    ]


def realistic_urls(base: str) -> dict[str, list[str]]:
    """What readers ask for, per kind: the front page, its first three pages, each rule's
    and each tag's page; the tester with the benchmark's queries and each rule; the API's
    first pages and each rule's. The numbers of pages 2 and 3 are read from the API."""
    with httpx.Client(base_url=base, timeout=300) as http:
        second = http.get("/api/matches").json()["next_before"]
        third = http.get(f"/api/matches?before={second}").json()["next_before"]
    rules = [f"r-{w}" for w in RULE_WORDS]
    return {
        "/": ["/", f"/?before={second}", f"/?before={third}",
              *(f"/?rule={r}" for r in rules), *(f"/?tag=t{n}" for n in range(3))],
        "tester": [*(f"/rules?q={q}" for q in QUERIES), *(f"/rules?rule={r}" for r in rules)],
        "/api/matches": ["/api/matches", f"/api/matches?before={second}",
                         *(f"/api/matches?rule={r}" for r in rules)],
    }


def mix_urls(rng: random.Random, mix: dict[str, list[str]] | None, total: int) -> list[str]:
    if mix is None:
        return cold_urls(rng, total)
    return [rng.choice(mix[kind]) for kind in KINDS]


def timed(client: httpx.Client, url: str) -> float:
    started = time.perf_counter()
    reply = client.get(url)
    elapsed = time.perf_counter() - started
    if reply.status_code != 200:
        raise SystemExit(f"{url}: HTTP {reply.status_code}: {reply.text[:300]}")
    return elapsed


def hammer(base: str, clients: int, total: int, realistic: bool, niceness: int | None,
           stop: Any, results: Any) -> None:
    """CLIENTS threads requesting pages back to back until ``stop`` is set (own process;
    ``niceness`` None: at the idle scheduling policy, taking only CPU nothing else wants)."""
    if niceness is None:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # before the threads
    else:
        os.nice(niceness)
    mix = realistic_urls(base) if realistic else None
    latencies: dict[str, list[float]] = {k: [] for k in KINDS}
    lock = threading.Lock()

    def client(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=base, timeout=300) as http:
            while not stop.is_set():
                for kind, url in zip(KINDS, mix_urls(rng, mix, total), strict=True):
                    took = timed(http, url)
                    with lock:
                        latencies[kind].append(took)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(latencies)


class Daemon:
    """``watcher run`` on a copy of the index; READY arrives on a notify socket."""

    def __init__(self, folder: Path, base_index: Path, feeds: str, workers: int,
                 tree: Path) -> None:
        if folder.exists():
            shutil.rmtree(folder)
        (folder / "state").mkdir(parents=True)
        shutil.copy(base_index, folder / "state" / "index.sqlite3")
        (folder / "rules.yaml").write_text(rules_yaml(), encoding="utf-8")
        self.port = free_port()
        self.folder = folder
        self.index = folder / "state" / "index.sqlite3"
        config = folder / "watcher.yaml"
        config.write_text(
            f"state_dir: state\nrules: rules.yaml\nnetwork:\n  allow: [127.0.0.1]\n"
            f"  per_host_min_gap: 0\n  per_host_concurrency: 16\nextract:\n"
            f"  workers: {workers}\npoll:\n  concurrency: 16\n"
            f"http:\n  listen: 127.0.0.1:{self.port}\nfeeds:\n{feeds}", encoding="utf-8")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(folder / "notify.sock"))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "watcher", "run", "--config", str(config)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tree,
            env={**os.environ, "NOTIFY_SOCKET": str(folder / "notify.sock"),
                 "PYTHONPATH": str(tree)})
        self.base = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 300) -> None:
        self.notify.settimeout(timeout)
        while b"READY=1" not in self.notify.recv(4096):
            pass

    def stored(self) -> int:
        """Articles in the run's index (read from the index, not the pages: a hammered,
        niced web process may answer late, and the count must not wait for it)."""
        with Store.at(f"sqlite:///{self.index}", self.folder / "state" / "articles") as store:
            return store.article_count()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        _, errors = self.process.communicate(timeout=60)
        self.notify.close()
        if self.process.returncode != 0:
            raise SystemExit(f"watcher run failed:\n{errors[-3000:]}")


@dataclass(frozen=True)
class Load:
    clients: int
    realistic: bool  # the realistic mix, else every request a cold one
    niceness: int | None  # of the clients' process; None: the idle scheduling policy


def poll_run(daemon: Daemon, expected: int, load: Load | None, total: int
             ) -> tuple[float, dict[str, list[float]], dict[str, float]]:
    """Seconds from READY until ``expected`` articles are stored, with or without clients;
    the pages' latencies; the CPU seconds each role used meanwhile."""
    context = multiprocessing.get_context("spawn")
    stop, results = context.Event(), context.Queue()
    hammering = None
    daemon.wait_ready()
    started = time.perf_counter()
    cpu_before = cpu_seconds(daemon.process.pid, None)
    if load is not None:
        hammering = context.Process(target=hammer, args=(
            daemon.base, load.clients, total, load.realistic, load.niceness, stop, results))
        hammering.start()
    while daemon.stored() < expected + total:
        if daemon.process.poll() is not None:
            raise SystemExit("the daemon exited during the run")
        time.sleep(0.25)
    elapsed = time.perf_counter() - started
    cpu = cpu_used(cpu_before, cpu_seconds(daemon.process.pid,
                                           hammering.pid if hammering else None))
    latencies: dict[str, list[float]] = {k: [] for k in KINDS}
    if hammering is not None:
        stop.set()
        latencies = results.get(timeout=300)
        hammering.join()
    return elapsed, latencies, cpu


def one_at_a_time(base: str, urls: list[list[str]]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {k: [] for k in KINDS}
    with httpx.Client(base_url=base, timeout=60) as http:
        for triple in urls:
            for kind, url in zip(KINDS, triple, strict=True):
                out[kind].append(timed(http, url))
    return out


def percentiles(values: list[float]) -> str:
    if not values:
        return f"{'-':>9}{'-':>9}{0:>7}"
    ordered = sorted(values)
    p50 = ordered[len(ordered) // 2] * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    return f"{p50:>9.1f}{p99:>9.1f}{len(values):>7}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--matches", type=int, default=20_000)
    parser.add_argument("--feeds", type=int, default=20)
    parser.add_argument("--entries", type=int, default=10)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=200, help="per page kind, idle")
    parser.add_argument("--repeat", type=int, default=3, help="runs with and without clients")
    parser.add_argument("--hammer", choices=("realistic", "cold"), default="realistic",
                        help="what the clients ask for: the realistic mix, or only requests "
                             "no cache can answer")
    parser.add_argument("--clients-nice", type=int, default=0,
                        help="niceness of the clients' process (10: they stand for browsers "
                             "on other machines and take only CPU polling leaves)")
    parser.add_argument("--clients-idle", action="store_true",
                        help="run the clients at the idle scheduling policy (SCHED_IDLE), "
                             "the nearest this machine comes to browsers on other machines")
    parser.add_argument("--trees", default=str(ROOT),
                        help="the watcher source trees the daemon runs, comma-separated: "
                             "several checkouts are alternated run by run, so two versions "
                             "are compared in one session on the same index and world")
    args = parser.parse_args()
    trees = [Path(t).resolve() for t in args.trees.split(",") if t]

    with tempfile.TemporaryDirectory() as folder_name, LocalHTTPServer() as server:
        folder = Path(folder_name)
        base = folder / "base"
        (base / "state").mkdir(parents=True)
        (base / "rules.yaml").write_text(rules_yaml(), encoding="utf-8")
        (base / "watcher.yaml").write_text("state_dir: state\nrules: rules.yaml\n")
        started = time.perf_counter()
        with Store.open(load_config(base / "watcher.yaml")) as store:
            fill_index(store, args.articles, args.matches)
        size = (base / "state" / "index.sqlite3").stat().st_size
        print(f"index: {args.articles} articles, {args.matches} matches, "
              f"{size / 2**20:.0f} MiB, filled in {time.perf_counter() - started:.1f} s")

        runs = 2 * args.repeat * len(trees)  # per round: each tree without, then with
        expected = args.feeds * args.entries
        serve_world(server, runs, args.feeds, args.entries)
        rng = random.Random(7)
        cold: dict[Path, dict[str, list[float]]] = {}
        warm: dict[Path, dict[str, list[float]]] = {}
        loaded: dict[Path, dict[str, list[float]]] = {tree: {k: [] for k in KINDS}
                                                      for tree in trees}
        rates: dict[Path, dict[bool, list[float]]] = {tree: {False: [], True: []}
                                                      for tree in trees}
        niceness = None if args.clients_idle else args.clients_nice
        load = Load(args.clients, args.hammer == "realistic", niceness)
        print(f"polling {args.feeds} feeds x {args.entries} pages per run, {args.workers} "
              f"workers; {args.repeat} runs with {args.clients} clients ({args.hammer} "
              f"requests, {'idle policy' if niceness is None else f'nice {niceness}'}) "
              f"and {args.repeat} without per tree, alternated; trees: "
              + ", ".join(map(str, trees)))
        for run in range(runs):
            hammered, tree = run % 2 == 1, trees[run // 2 % len(trees)]
            feeds = "".join(f"  - name: r{run}f{i}\n    url: {server.url(f'/r{run}/feed{i}.xml')}\n"
                            for i in range(args.feeds))
            daemon = Daemon(folder / f"run{run}", base / "state" / "index.sqlite3", feeds,
                            args.workers, tree)
            try:
                seconds, latencies, cpu = poll_run(daemon, expected,
                                                   load if hammered else None, args.articles)
                rates[tree][hammered].append(expected / seconds)
                for kind in KINDS:
                    loaded[tree][kind].extend(latencies[kind])
                # A WAL that only grows means readers never let a checkpoint finish.
                wal = daemon.index.with_name(daemon.index.name + "-wal")
                wal_size = wal.stat().st_size / 2**20 if wal.exists() else 0.0
                shares = ", ".join(f"{role} {cpu[role]:.1f}" for role in ROLES)
                print(f"  run {run + 1} ({tree.name}): "
                      f"{'with' if hammered else 'without':>7} clients: "
                      f"{expected / seconds:6.1f} articles/s; WAL {wal_size:.1f} MiB; CPU s "
                      f"over {seconds:.1f} s: {shares}", flush=True)
                if tree not in cold:
                    cold[tree], warm[tree] = idle_latencies(daemon.base, rng, args.articles,
                                                            args.requests)
            finally:
                daemon.stop()

    print()
    print("one at a time on the idle daemon: cold = no cache can answer (a page or a tester "
          "search at a random depth; what the first request after a change pays); warm = "
          "the realistic mix once each page was asked")
    print(f"while polling: {args.clients} clients back to back, {args.hammer} requests "
          "(pages change as articles arrive)")
    for tree in trees:
        print()
        print(f"{str(tree) + ', milliseconds':50}{'p50':>9}{'p99':>9}{'n':>7}")
        for name, figures in (("cold", cold[tree]), ("warm", warm[tree]),
                              (f"{args.clients} clients", loaded[tree])):
            for kind in KINDS:
                print(f"{kind + ', ' + name:50}{percentiles(figures[kind])}")
        without = statistics.median(rates[tree][False])
        with_clients = statistics.median(rates[tree][True])
        ratios = [w / o for o, w in zip(rates[tree][False], rates[tree][True], strict=True)]
        spread = [f"{min(v):.1f}-{max(v):.1f}" for v in (rates[tree][False], rates[tree][True])]
        print(f"polling, articles/s (median of {args.repeat}): without clients {without:.1f} "
              f"[{spread[0]}], with {args.clients} clients {with_clients:.1f} [{spread[1]}]; "
              f"ratio {with_clients / without:.3f} (each run with clients against the run "
              f"before it: {min(ratios):.3f}-{max(ratios):.3f})")


def serve_world(server: LocalHTTPServer, runs: int, feeds: int, entries: int) -> None:
    """Each run polls pages it has never seen: distinct copies of the corpus, fresh paths."""
    pages = [corpus_page(page_id) for page_id in sorted(ground_truth())]
    for run in range(runs):
        for feed in range(feeds):
            items = []
            for entry in range(entries):
                number = (run * feeds + feed) * entries + entry
                path = f"/r{run}/f{feed}/a{entry}"
                server.route(path, distinct_copy(pages[number % len(pages)], number))
                items.append(Item(guid=f"r{run}-f{feed}-{entry}", path=path,
                                  title=f"Story {number}", summary="summary",
                                  published=datetime(2026, 11, 23, tzinfo=UTC)))
            server.route(f"/r{run}/feed{feed}.xml", rss(items, server),
                         content_type="application/rss+xml")


def idle_latencies(base: str, rng: random.Random, total: int, requests: int
                   ) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Cold and warm latencies, one request at a time, on a daemon that has finished
    polling."""
    one_at_a_time(base, [["/", "/rules?q=x", "/api/matches"]])  # imports
    cold = one_at_a_time(base, [cold_urls(rng, total) for _ in range(requests)])
    mix = realistic_urls(base)
    one_at_a_time(base, [[mix[k][i % len(mix[k])] for k in KINDS]
                         for i in range(max(map(len, mix.values())))])
    warm = one_at_a_time(base, [mix_urls(rng, mix, total) for _ in range(requests)])
    return cold, warm


if __name__ == "__main__":
    main()
