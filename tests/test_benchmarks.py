"""The benchmarks still run: each command in bench/, at a small size, exits cleanly and prints
its table. Nothing here is timed (speed targets live in the benchmarks themselves); this only
keeps them from rotting between the times someone measures with them."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.local import unavailable

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"


def _run(script: str, *arguments: str) -> str:
    done = subprocess.run([sys.executable, str(BENCH / script), *arguments],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.timeout(300)
def test_rules_benchmark_runs_and_its_floor_finds_the_engines_hits() -> None:
    # prepare() asserts that the floor's automaton finds at least the engine's hits
    out = _run("bench_rules.py", "--articles", "40", "--sizes", "20,60", "--topics", "60",
               "--repeat", "1", "--baseline-seconds", "0.1")
    rows = [line.split() for line in out.splitlines()
            if line.split()[1:2] in (["names"], ["topics"])]
    assert [row[:2] for row in rows] == [["20", "names"], ["60", "names"], ["60", "topics"]]
    assert float(rows[2][10]) > float(rows[1][10])  # matches per article: topics match more
    assert "slowdown from 20 to 60 rules" in out
    assert "60 topic rules (" in out


@pytest.mark.timeout(300)
def test_cycle_benchmark_runs_a_second_cycle_all_conditional_and_a_daemons_cycle() -> None:
    out = _run("bench_cycle.py", "--feeds", "2", "--entries", "2", "--workers", "1",
               "--names", "10", "--topics", "30", "--daemon", "--rounds", "2")
    assert "baseline (httpx + trafilatura)" in out and "after start-up" in out
    labels = [line.split()[1:3] for line in out.splitlines()
              if line.startswith(f"{ROOT.name} ")]
    assert [label[0] for label in labels] == ["names", "topics", "names", "topics"]
    assert labels[2:] == [["names", "daemon"], ["topics", "daemon"]]
    # the second round runs the configurations in reverse
    runs = [line.split(":")[0].replace(",", "").split()[1:] for line in out.splitlines()
            if line.startswith("round ")]
    assert [run[0] for run in runs] == ["1"] * 4 + ["2"] * 4
    # each mode's rule sets back to back, the pair its "x first set" ratio compares
    assert [run[1:] for run in runs[:4]] == [[ROOT.name, kind, *mode] for mode in
                                             ([], ["running", "daemon"]) for kind in
                                             ("names", "topics")]
    assert [run[1:] for run in runs[4:]] == [run[1:] for run in runs[3::-1]]
    # the daemon stored the four articles of the feeds added to its config, each run
    assert out.count("running daemon: 4 articles in") == 4
    assert "100% conditional" in out


@pytest.mark.timeout(300)
def test_reload_benchmark_ships_rules_the_workers_compile() -> None:
    out = _run("bench_reload.py", "--rules", "50", "--repeat", "1")
    assert "compiled form: pickle time, load time" in out
    assert "first task after a share (waits on compile)" in out


@pytest.mark.timeout(300)
def test_extraction_benchmark_runs_on_the_corpus() -> None:
    out = _run("bench_extract.py", "--passes", "1")
    assert "watcher: extract_page in-process" in out
    assert "trafilatura.extract(html), defaults" in out
    [paired] = [line for line in out.splitlines() if line.startswith("watcher minus")]
    assert paired.endswith("x") and float(paired.split()[-1][:-1]) > 0


@pytest.mark.timeout(300)
def test_folding_benchmark_scores_the_labels_and_times_a_small_flood() -> None:
    out = _run("bench_folding.py", "--copies", "40", "--repeat", "1")
    assert "evidence (issue 15)   all" in out and "shingles only         all" in out
    assert "CPU  evidence / shingles only:" in out


@pytest.mark.timeout(300)
def test_site_memory_benchmark_grows_a_sites_history() -> None:
    out = _run("bench_site_memory.py", "--history", "20,60", "--articles", "5", "--rounds", "1")
    rows = [line.split() for line in out.splitlines() if line.split()[:1] in (["20"], ["60"])]
    assert [row[0] for row in rows] == ["20", "60"] and all(len(row) == 5 for row in rows)


@pytest.mark.timeout(300)
def test_polling_benchmark_runs_both_strategies() -> None:
    out = _run("bench_polling.py", "--feeds", "12")
    assert "fixed 15 min" in out and "\nauto " in out
    assert "auto / fixed: requests" in out


@pytest.mark.timeout(300)
def test_fetch_benchmark_runs_both_pools_and_counts_their_connections() -> None:
    out = _run("bench_fetch.py", "--hosts", "3", "--pages", "30", "--concurrency", "6",
               "--rounds", "1")
    assert "30 pages from 3 local servers" in out
    opened = {line.split()[0]: int(line.split("connections opened ")[1].split()[0])
              for line in out.splitlines() if "connections opened" in line}
    assert set(opened) == {"httpcore", "linear"}
    assert 3 <= opened["linear"] <= 30  # at least one per host, at most one per page
    assert "linear / httpcore: " in out


@pytest.mark.timeout(300)
def test_web_benchmark_runs_with_and_without_clients() -> None:
    out = _run("bench_web.py", "--articles", "1500", "--matches", "300", "--feeds", "2",
               "--entries", "2", "--repeat", "1", "--requests", "3", "--clients", "2",
               "--workers", "1", "--clients-idle")
    assert "/, cold" in out and "tester, warm" in out and "tester, 2 clients" in out
    assert "polling, articles/s" in out and "ratio" in out


@pytest.mark.timeout(300)
def test_web_cpu_benchmark_runs_and_alternates_its_trees() -> None:
    out = _run("bench_web_cpu.py", "--articles", "1500", "--matches", "300", "--requests", "3",
               "--rounds", "2", "--tree", str(ROOT), "--tree", str(ROOT))
    assert out.count("round 1, ") == out.count("round 2, ") == 2
    assert "tester, cold" in out and "/api/matches, cold" in out


@pytest.mark.timeout(300)
def test_cluster_benchmark_runs_sqlite_and_one_then_two_processes_on_postgresql() -> None:
    from tests.support.postgres import binaries_or_skip

    binaries_or_skip()
    out = _run("bench_cluster.py", "--feeds", "2", "--entries", "2")
    assert "SQLite, one process" in out and "PostgreSQL, 2 processes" in out
    assert "speedup from 1 to 2 processes" in out
    assert "CPU seconds per article, by process kind" in out
    assert "statements per article, most frequent first" in out


@pytest.mark.timeout(600)
def test_instruction_benchmark_counts_each_process_of_a_run() -> None:
    if shutil.which("valgrind") is None:
        unavailable("valgrind is not installed (Debian's valgrind)")
    done = subprocess.run([sys.executable, str(BENCH / "bench_instructions.py"), "--sizes",
                           "1,2", "--rules", "names", "--names", "5", "--workers", "1"],
                          capture_output=True, text=True, timeout=560, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {line[:28].strip(): [float(value) for value in line[28:].split()]
            for line in done.stdout.splitlines() if line.startswith("names, ")}
    assert set(rows) == {"names, 1 articles", "names, 2 articles"}
    for daemon, server, workers, rest, everything in rows.values():
        # the daemon imports and starts; the server imports trafilatura; a worker extracts
        assert daemon > 1 and server > 1 and workers > 0.01 and rest >= 0
        assert everything == pytest.approx(daemon + server + workers + rest, abs=0.01)
    assert rows["names, 2 articles"][2] > rows["names, 1 articles"][2]
    # a worker's own count, less the server's that callgrind copies into it at the fork
    assert rows["names, 1 articles"][2] < rows["names, 1 articles"][1] / 4
    assert re.search(r"^names: [\d.]+ M an article \(daemon", done.stdout, re.MULTILINE)
