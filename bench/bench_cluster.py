"""Cluster benchmark: ``python bench/bench_cluster.py [--feeds 200 --entries 25]``.

The world of bench_cycle.py (FEEDS feeds x ENTRIES distinct real article pages on a local
server), stored three ways in one run: today's single process on SQLite (``watcher run
--once``), then ``watcher run`` processes sharing a PostgreSQL index through procrastinate,
first one process, then two (the second with ``--role worker``). Each process gets
EXTRACT_WORKERS extraction workers, so one and two processes differ only in how many share
the queue. Prints articles/s, the speedup from one process to two, how long a job waited
from being deferred (a due poll, a new entry) to being started (p50, p99, from
procrastinate's event log), PostgreSQL transactions and statements per article (each
statement one round trip: pg_stat_database, pg_stat_statements), the statements that cost
most round trips, how much the database grew per article (index rows, matches, the job
queue's rows; WAL not counted), and the CPU seconds per article spent by each kind of
process (watcher's own, its extraction workers, PostgreSQL, this benchmark's HTTP server)
with the articles/s the machine's cores could reach at that cost. The PostgreSQL server is
started here, as in the tests.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_cycle import _when, distinct_copy  # noqa: E402

from tests.support.data import corpus_page, ground_truth  # noqa: E402
from tests.support.newsroom import Item, rss  # noqa: E402
from tests.support.postgres import PostgresServer  # noqa: E402
from tests.support.servers import LocalHTTPServer  # noqa: E402


@dataclass(frozen=True)
class Result:
    label: str
    articles: int
    seconds: float
    latency_p50: float | None = None
    latency_p99: float | None = None
    transactions_per_article: float | None = None
    statements_per_article: float | None = None
    bytes_per_article: float | None = None
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds by process kind
    statements: list[tuple[float, str]] = field(default_factory=list)  # per article

    @property
    def rate(self) -> float:
        return self.articles / self.seconds

    def cpu_per_article(self, kind: str) -> float:
        return self.cpu.get(kind, 0.0) / self.articles


WATCHER, EXTRACTION, POSTGRES, HTTP = ("watcher", "extraction", "postgres",
                                       "http server (bench)")
KINDS = (WATCHER, EXTRACTION, POSTGRES, HTTP)
STATEMENTS = ("shared_preload_libraries=pg_stat_statements",
              "pg_stat_statements.track_utility=on", "pg_stat_statements.max=5000")


def seconds_of(times: Any, *, children: bool = False) -> float:
    spent = float(times.user + times.system)
    if children:
        spent += float(times.children_user + times.children_system)
    return spent


def tree_seconds(pid: int) -> float:
    """CPU seconds of a process and its live descendants, each with the children it
    reaped (a retired extraction worker is reaped by the fork server, not the watcher)."""
    root = psutil.Process(pid)
    spent = seconds_of(root.cpu_times(), children=True)
    for child in root.children(recursive=True):
        try:
            spent += seconds_of(child.cpu_times(), children=True)
        except psutil.NoSuchProcess:
            continue
    return spent


def postmaster_pid(postgres: PostgresServer) -> int:
    return int((postgres.data / "postmaster.pid").read_text().split()[0])


def own_seconds() -> float:
    return seconds_of(psutil.Process().cpu_times())


def reaped_children_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def build_world(server: LocalHTTPServer, feeds: int, entries: int) -> list[str]:
    pages = [corpus_page(page_id) for page_id in sorted(ground_truth())]
    urls = []
    for feed in range(feeds):
        items = []
        for entry in range(entries):
            number = feed * entries + entry
            path = f"/f{feed}/a{entry}"
            server.route(path, distinct_copy(pages[number % len(pages)], number))
            items.append(Item(guid=f"f{feed}-{entry}", path=path, title=f"Story {number}",
                              summary="summary", published=_when(number)))
        server.route(f"/feed{feed}.xml", rss(items, server), content_type="application/rss+xml")
        urls.append(server.url(f"/feed{feed}.xml"))
    return urls


def write_config(folder: Path, feed_urls: list[str], extract_workers: int,
                 index: str | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rules.yaml").write_text(
        "rules:\n  - name: government\n    query: 'government OR minister*'\n"
        "  - name: defect\n    query: 'defect* NEAR/5 (Russia* OR Soviet)'\n")
    feeds = "".join(f"  - name: f{i}\n    url: {url}\n" for i, url in enumerate(feed_urls))
    config = folder / "watcher.yaml"
    config.write_text(
        "state_dir: ${WATCHER_STATE}\nrules: rules.yaml\nstore: all\n"
        "articles: articles\n" + (f"index: {index}\n" if index else "")
        + "network:\n  allow: [127.0.0.1]\n  per_host_min_gap: 0\n  per_host_concurrency: 16\n"
        f"extract:\n  workers: {extract_workers}\npoll:\n  concurrency: 16\nfeeds:\n{feeds}")
    return config


def watcher(config: Path, state: Path, *args: str) -> subprocess.Popen[bytes]:
    """A watcher command; its log goes to ``state``.log, shown if it fails."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WATCHER_STATE": str(state)}
    with open(f"{state}.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "watcher", *args, "--config", str(config)], cwd=ROOT,
            env=env, stdout=subprocess.DEVNULL, stderr=log)


def failed(what: str, state: Path) -> SystemExit:
    log = Path(f"{state}.log").read_text(errors="replace")[-3000:]
    return SystemExit(f"{what}; its log ends:\n{log}")


def run_sqlite(folder: Path, feed_urls: list[str], total: int, extract_workers: int) -> Result:
    config = write_config(folder, feed_urls, extract_workers, None)
    started = time.perf_counter()
    children_before, own_before = reaped_children_seconds(), own_seconds()
    process = watcher(config, folder / "state", "run", "--once")
    main_seconds = tree = 0.0
    # Sampled while it runs: its extraction workers are not reaped where this process can
    # count them afterwards.
    while process.poll() is None:
        try:
            tree = tree_seconds(process.pid)
            main_seconds = seconds_of(psutil.Process(process.pid).cpu_times())
        except psutil.NoSuchProcess:
            break
        time.sleep(0.1)
    if process.wait() != 0:
        raise failed("watcher run --once failed", folder / "state")
    seconds = time.perf_counter() - started
    tree = max(tree, reaped_children_seconds() - children_before)
    stored = len(list((folder / "articles").iterdir()))
    if stored != total:
        raise SystemExit(f"SQLite run stored {stored} of {total} articles")
    cpu = {WATCHER: main_seconds, EXTRACTION: tree - main_seconds,
           HTTP: own_seconds() - own_before}
    return Result("SQLite, one process (run --once)", stored, seconds, cpu=cpu)


def one_value(url: str, sql: str) -> float:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql).fetchone()
    return float(row[0]) if row and row[0] is not None else 0.0


def run_cluster(postgres: PostgresServer, folder: Path, feed_urls: list[str], total: int,
                extract_workers: int, processes: int) -> Result:
    index = postgres.create_database(f"bench_{processes}")
    config = write_config(folder, feed_urls, extract_workers, index)
    upgrade = watcher(config, folder / "state-0", "db", "upgrade")
    if upgrade.wait() != 0:
        raise failed("watcher db upgrade failed", folder / "state-0")
    transactions = ("SELECT xact_commit + xact_rollback FROM pg_stat_database"
                    " WHERE datname = current_database()")
    with psycopg.connect(index, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.execute("SELECT pg_stat_statements_reset()")
    before = one_value(index, transactions)
    size_before = one_value(index, "SELECT pg_database_size(current_database())")
    postgres_before, own_before = tree_seconds(postmaster_pid(postgres)), own_seconds()
    started = time.perf_counter()
    members = [watcher(config, folder / f"state-{n}", "run",
                       *(("--role", "worker") if n else ())) for n in range(processes)]
    cpu: dict[str, float] = {}
    try:
        while one_value(index, "SELECT count(*) FROM articles") < total:
            for n, member in enumerate(members):
                if member.poll() is not None:
                    raise failed(f"watcher process {n} ended early", folder / f"state-{n}")
            time.sleep(0.2)
        seconds = time.perf_counter() - started
        # Sampled before the members stop, while their extraction workers are alive.
        for member in members:
            whole = tree_seconds(member.pid)
            own = seconds_of(psutil.Process(member.pid).cpu_times())
            cpu[WATCHER] = cpu.get(WATCHER, 0.0) + own
            cpu[EXTRACTION] = cpu.get(EXTRACTION, 0.0) + whole - own
        cpu[POSTGRES] = tree_seconds(postmaster_pid(postgres)) - postgres_before
        cpu[HTTP] = own_seconds() - own_before
        statements = statement_calls(index)
    finally:
        for member in members:
            member.send_signal(signal.SIGTERM)
        for member in members:
            member.wait(timeout=120)
    # pg_stat_database is updated by each backend at the end of its transactions, and
    # reported after a short delay.
    time.sleep(1.0)
    spent = one_value(index, transactions) - before
    grown = one_value(index, "SELECT pg_database_size(current_database())") - size_before
    with psycopg.connect(index) as conn:
        waits = [float(row[0]) for row in conn.execute(
            "SELECT extract(epoch FROM s.at - d.at) FROM procrastinate_events d"
            " JOIN procrastinate_events s ON s.job_id = d.job_id AND s.type = 'started'"
            " WHERE d.type = 'deferred'").fetchall()]
    quantiles = statistics.quantiles(waits, n=100) if len(waits) > 1 else [0.0] * 99
    noun = "process" if processes == 1 else "processes"
    calls = sum(n for n, _ in statements)
    return Result(f"PostgreSQL, {processes} {noun} (run)", total, seconds,
                  quantiles[49], quantiles[98], spent / total, calls / total, grown / total,
                  cpu, [(n / total, query) for n, query in statements])


TOP_STATEMENTS = 12
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK")


def statement_shares(result: Result) -> dict[str, float]:
    """Statements per article: the job queue's (procrastinate's functions and tables),
    transaction control, and the index's own reads and writes."""
    shares = {"job queue": 0.0, "BEGIN/COMMIT/ROLLBACK": 0.0, "index": 0.0}
    for per_article, query in result.statements:
        if "procrastinate" in query:
            shares["job queue"] += per_article
        elif query.split(" ", 1)[0].upper() in TRANSACTION_CONTROL:
            shares["BEGIN/COMMIT/ROLLBACK"] += per_article
        else:
            shares["index"] += per_article
    return shares


def statement_calls(index: str) -> list[tuple[int, str]]:
    """Every statement run on the index's database since the reset, most frequent first
    (the bench's own sampling left out)."""
    with psycopg.connect(index) as conn:
        found = conn.execute(
            "SELECT s.calls, s.query FROM pg_stat_statements s JOIN pg_database d"
            " ON d.oid = s.dbid WHERE d.datname = current_database()"
            " ORDER BY s.calls DESC").fetchall()
    bench_own = ("SELECT count(*) FROM articles", "pg_stat_statements")
    return [(int(calls), " ".join(str(query).split())) for calls, query in found
            if not any(own in str(query) for own in bench_own)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--entries", type=int, default=25)
    parser.add_argument("--extract-workers", type=int, default=1,
                        help="extraction workers per watcher process (default 1)")
    args = parser.parse_args()
    total = args.feeds * args.entries
    print(f"{args.feeds} feeds x {args.entries} entries = {total} articles; "
          f"{args.extract_workers} extraction worker(s) per process; {os.cpu_count()} CPUs")

    results: list[Result] = []
    print(f"load average at the start: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with LocalHTTPServer() as server, tempfile.TemporaryDirectory() as scratch, \
            PostgresServer.start(settings=STATEMENTS) as postgres:
        feed_urls = build_world(server, args.feeds, args.entries)
        results.append(run_sqlite(Path(scratch) / "sqlite", feed_urls, total,
                                  args.extract_workers))
        for processes in (1, 2):
            results.append(run_cluster(postgres, Path(scratch) / f"pg{processes}", feed_urls,
                                       total, args.extract_workers, processes))

    print()
    print(f"{'':36}{'articles/s':>11}{'seconds':>9}{'wait p50':>10}{'wait p99':>10}"
          f"{'xact/art':>10}{'stmt/art':>10}{'KiB/art':>9}")
    print("(stmt/art: statements, each one round trip except those psycopg pipelines, e.g. "
          "an executemany; xact/art: transactions, each at least one)")
    for result in results:
        extra = ("" if result.latency_p50 is None else
                 f"{result.latency_p50:>9.2f}s{result.latency_p99:>9.2f}s"
                 f"{result.transactions_per_article:>10.1f}"
                 f"{result.statements_per_article:>10.1f}"
                 f"{(result.bytes_per_article or 0) / 1024:>9.1f}")
        print(f"{result.label:36}{result.rate:>11.1f}{result.seconds:>9.1f}{extra}")
    cores = os.cpu_count() or 1
    print()
    print(f"CPU seconds per article, by process kind; cores busy (of the {cores} here, "
          "shared with whatever else runs: see the load average); the ceiling is the "
          "articles/s all cores could do at this cost with nothing else running:")
    print(f"{'':36}" + "".join(f"{kind.split()[0]:>12}" for kind in KINDS)
          + f"{'total':>9}{'busy':>7}{'ceiling':>12}")
    for result in results:
        total_cpu = sum(result.cpu_per_article(kind) for kind in KINDS)
        busy = total_cpu * result.rate
        print(f"{result.label:36}"
              + "".join(f"{result.cpu_per_article(kind):>12.4f}" for kind in KINDS)
              + f"{total_cpu:>9.4f}{busy:>7.2f}{cores / total_cpu if total_cpu else 0:>8.1f} a/s")
    sqlite, one, two = results
    print()
    for result in (one, two):
        shares = statement_shares(result)
        print(f"statements per article by what they serve ({result.label}): "
              + ", ".join(f"{name} {value:.1f}" for name, value in shares.items()))
    print(f"statements per article, most frequent first ({one.label}):")
    for per_article, query in one.statements[:TOP_STATEMENTS]:
        print(f"{per_article:>8.2f}  {query[:110]}")
    print()
    print(f"speedup from 1 to 2 processes: {two.rate / one.rate:.2f}x")
    print(f"PostgreSQL (1 process) against SQLite (1 process): {one.rate / sqlite.rate:.2f}x")


if __name__ == "__main__":
    main()
