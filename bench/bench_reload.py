"""Rule updates to the workers: ``python bench/bench_reload.py [--rules 10000] [--repeat 3]``.

Matching runs in the worker processes, so a reload of rules.yaml must reach them. Three ways
were open: compile once in the daemon and ship the compiled form, ship the rules and compile
in each worker, or compile in the daemon and in each worker off the hot path. The rules as
checked are shipped (``WorkerPool.share``) and each worker compiles them as they arrive:
shipping the compiled form would move the compile to the daemon's own process and add its
pickling there, then its loading in every worker, for about the same CPU in all (the
compiled form's pickle and load are printed below; it pickles for the user's cache,
``compiledcache.py``). This prints, for ``--rules`` topic rules
(rulesets.make_topic_rules), medians of ``--repeat`` rounds:

- the daemon's own reload: rules.yaml read and checked (``check_rules``); a ``RuleSet``
  compiles on first use, which the daemon's never needs (its matching is the workers');
- the compile itself, the queries parsed already;
- the shipped form: its pickled size and the time to pickle it;
- the compiled form: its pickled size, the time to pickle it and to load it;
- the workers: from ``share`` until every idle worker has compiled (they build while idle),
  and how long a task sent right after ``share`` waits on its worker's compile (the stall a
  reload costs one entry per worker), against a task on workers already up to date.
"""

from __future__ import annotations

import argparse
import asyncio
import pickle
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from rulesets import load_articles, make_topic_rules, vocabulary  # noqa: E402

from watcher.entrywork import RULES, RuleSource, compile_rules  # noqa: E402
from watcher.memory import collector_paused  # noqa: E402
from watcher.rules import RuleSet, check_rules  # noqa: E402
from watcher.worker_main import shared  # noqa: E402
from watcher.workers import WorkerPool  # noqa: E402


def rule_count() -> int:
    """A task that needs the worker's rules (so it waits for their compile)."""
    rules: RuleSet = shared(RULES)
    return len(rules)


async def worker_round(source: RuleSource, workers: int) -> tuple[float, float, float]:
    """(seconds until every idle worker compiled, first task's latency after a share,
    a task's latency with the rules in place)."""
    async with WorkerPool(workers) as pool:
        await asyncio.gather(*(pool.run(sum, [1], timeout=60) for _ in range(workers)))
        started = time.perf_counter()
        await pool.share(RULES, source, compile_rules)
        await asyncio.gather(*(pool.run(rule_count, timeout=120) for _ in range(workers)))
        all_built = time.perf_counter() - started
        started = time.perf_counter()
        await pool.run(rule_count, timeout=120)
        warm = time.perf_counter() - started
        await pool.share(RULES, RuleSource(source.rules[:-1]), compile_rules)
        started = time.perf_counter()
        await pool.run(rule_count, timeout=120)
        stalled = time.perf_counter() - started
    return all_built, stalled, warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rules", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    made = make_topic_rules(args.rules, vocabulary(load_articles(1000)))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rules.yaml"
        path.write_text(yaml.safe_dump({"rules": [{"name": r.name, "query": r.query}
                                                  for r in made]}), encoding="utf-8")
        checked: list[float] = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            rules, problems = check_rules(path)
            checked.append(time.perf_counter() - started)
            assert rules is not None and not problems, problems
    assert rules is not None
    compiling: list[float] = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        RuleSet(rules.rules).triggers  # noqa: B018 - compiled on first use
        compiling.append(time.perf_counter() - started)
    source = RuleSource(rules.rules)
    pickled: list[float] = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        payload = pickle.dumps(source)
        pickled.append(time.perf_counter() - started)
    rules.triggers  # noqa: B018 - compiled, as a worker has it
    dumping: list[float] = []
    loading: list[float] = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        compiled = pickle.dumps(rules, protocol=pickle.HIGHEST_PROTOCOL)
        dumping.append(time.perf_counter() - started)
        started = time.perf_counter()
        with collector_paused():  # as compiledcache reads it (entrywork.compile_rules)
            pickle.loads(compiled)
        loading.append(time.perf_counter() - started)
    rounds = [asyncio.run(worker_round(source, args.workers)) for _ in range(args.repeat)]
    built, stalled, warm = (statistics.median(r[i] for r in rounds) for i in range(3))
    print(f"{args.rules} topic rules, {args.workers} workers, medians of {args.repeat}")
    print(f"daemon: read and check rules.yaml            {statistics.median(checked):8.2f} s")
    print(f"compile (queries parsed already)             {statistics.median(compiling):8.2f} s")
    print(f"compiled form: pickled size                  {len(compiled) / 1024:8.0f} KiB")
    print(f"compiled form: pickle time, load time        "
          f"{statistics.median(dumping):8.2f} s, {statistics.median(loading):.2f} s")
    print(f"shipped rules: pickled size                  {len(payload) / 1024:8.0f} KiB")
    print(f"shipped rules: pickle time                   "
          f"{statistics.median(pickled) * 1000:8.1f} ms")
    print(f"workers: share -> all idle workers compiled  {built:8.2f} s")
    print(f"first task after a share (waits on compile)  {stalled:8.2f} s")
    print(f"task with the rules in place                 {warm * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
