"""The workers' fork server compiles the config's rules once, and each worker it forks takes
them instead of compiling its own (watcher/forkserver.py, entrywork.compile_rules)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_workers import DAEMON_MODULES
from watcher import entrywork
from watcher.checks import validated
from watcher.entrywork import RULES, RuleSource, compile_rules, preload_rules
from watcher.forkserver import CONFIG_VARIABLE
from watcher.worker_main import shared

ROOT = Path(__file__).resolve().parents[1]


def write_config(folder: Path, queries: dict[str, str]) -> Path:
    rules = folder / "rules.yaml"
    rules.write_text("rules:\n" + "".join(
        f"  - name: {name}\n    query: '{query}'\n" for name, query in queries.items()))
    config = folder / "watcher.yaml"
    config.write_text(f"state_dir: {folder / 'state'}\nrules: {rules}\nfeeds: []\n")
    return config


def source_of(config: Path) -> RuleSource:
    return RuleSource(tuple(validated(config)[1].rules))


@pytest.fixture
def nothing_preloaded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(entrywork, "_preloaded", None)


@pytest.mark.usefixtures("nothing_preloaded")
def test_the_preloaded_rules_are_handed_out_for_the_same_rules_only(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"spies": "MI6 AND defect", "votes": "election"})
    assert preload_rules(config)
    preloaded = compile_rules(source_of(config))
    assert compile_rules(source_of(config)) is preloaded  # read again: equal, not the same
    assert [rule.name for rule in preloaded.rules] == ["spies", "votes"]
    edited = write_config(tmp_path, {"spies": "MI6 AND defect"})
    other = compile_rules(source_of(edited))
    assert other is not preloaded
    assert [rule.name for rule in other.rules] == ["spies"]


@pytest.mark.usefixtures("nothing_preloaded")
def test_rules_that_do_not_check_leave_nothing_preloaded(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"spies": "MI6 AND (defect"})  # unbalanced
    assert not preload_rules(config)
    assert not preload_rules(tmp_path / "missing.yaml")
    assert entrywork._preloaded is None


def probe() -> dict[str, object]:
    """In a worker: whether its rules are the fork server's, which rules, which process."""
    rules = shared(RULES)
    time.sleep(0.05)  # so that the probes sent together find every worker
    held = entrywork._preloaded
    return {"preloaded": held is not None and rules is held[1], "pid": os.getpid(),
            "rules": [rule.name for rule in rules.rules],
            "daemon_modules": sorted(name for name in DAEMON_MODULES if name in sys.modules)}


_FRESH_DAEMON = """
import asyncio, json, os, sys
from pathlib import Path
from tests.test_forkserver import probe, source_of
from watcher.entrywork import RULES, compile_rules
from watcher.forkserver import CONFIG_VARIABLE, start_fork_server
from watcher.workers import WorkerPool

config, edited = Path(sys.argv[1]), Path(sys.argv[2])
start_fork_server(config=config)
left = os.environ.get(CONFIG_VARIABLE)

async def probes(pool):
    return await asyncio.gather(*(pool.run(probe, timeout=60) for _ in range(6)))

async def main():
    async with WorkerPool(2) as pool:
        await pool.share(RULES, source_of(config), compile_rules)
        first = await probes(pool)
        await pool.share(RULES, source_of(edited), compile_rules)
        return first, await probes(pool)

first, then = asyncio.run(main())
print(json.dumps({"left": left, "first": first, "then": then}))
"""


def test_workers_take_the_rules_their_fork_server_compiled(tmp_path: Path) -> None:
    """A fresh interpreter plays ``watcher run``: this test process's fork server, if any,
    started without a config."""
    config = write_config(tmp_path, {"spies": "MI6 AND defect", "votes": "election"})
    (tmp_path / "edited").mkdir()
    edited = write_config(tmp_path / "edited", {"votes": "election OR referendum"})
    done = subprocess.run([sys.executable, "-c", _FRESH_DAEMON, str(config), str(edited)],
                          cwd=ROOT, capture_output=True, text=True, timeout=180, check=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["left"] is None  # the path went to the server only
    assert CONFIG_VARIABLE not in os.environ
    first, then = report["first"], report["then"]
    assert {p["preloaded"] for p in first} == {True}
    assert {p["rules"] == ["spies", "votes"] for p in first} == {True}
    assert len({p["pid"] for p in first}) == 2  # both workers, each from birth
    # Edited rules (a reload) are compiled in each worker, as without the server's.
    assert {p["preloaded"] for p in then} == {False}
    assert {p["rules"] == ["votes"] for p in then} == {True}
    # Checking the config in the server brought none of the daemon's libraries along.
    assert {tuple(p["daemon_modules"]) for p in first} == {()}
