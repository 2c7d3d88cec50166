"""Settling a long-lived build (watcher/memory.py): what is kept is frozen out of every
later collection, the building's garbage is freed rather than frozen, and a reload frees
the set it replaces. Each case runs in a fresh interpreter: freezing is process-wide."""

from __future__ import annotations

import subprocess
import sys
import textwrap

PRELUDE = """
import gc, weakref
from watcher.memory import settle_in_memory

class Node:
    def __init__(self):
        self.me = self  # a cycle: only the collector frees it

def build(count):
    kept = [Node() for _ in range(count)]
    garbage = Node()
    return kept, weakref.ref(garbage)

def in_collections(obj):
    return any(o is obj for o in gc.get_objects())

def settle():
    settle_in_memory()
    gc.enable()

# No automatic pass anywhere (each case enables the collector only after settling), so
# that only the settle's own pass can free the building's garbage.
gc.disable()
"""


def run(body: str) -> str:
    code = textwrap.dedent(PRELUDE) + textwrap.dedent(body)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_first_settle_freezes_what_is_kept_and_frees_the_buildings_garbage() -> None:
    assert run("""
        kept, garbage = build(1000)
        settle()
        assert garbage() is None, "the building's garbage cycle was frozen, not freed"
        assert not in_collections(kept[0]), "what is kept is still walked by collections"
        assert gc.get_freeze_count() >= 1000
        print("ok")
        """) == "ok"


def test_a_reload_frees_the_rule_set_it_replaces() -> None:
    assert run("""
        first, _ = build(1000)
        settle()
        old = weakref.ref(first[0])
        del first
        gc.disable()
        second, garbage = build(1000)
        settle()
        assert old() is None, "the replaced set stayed frozen"
        assert garbage() is None
        assert not in_collections(second[0])
        print("ok")
        """) == "ok"


def test_a_build_made_with_the_collector_running_is_settled_too() -> None:
    # The daemon's rules are checked with the collector paused, but it runs again before
    # they are settled: what was built, and its garbage, may have left the youngest
    # generation.
    assert run("""
        kept = [Node() for _ in range(1000)]
        dropped = Node()
        gc.collect(0)  # both survive a young pass, which moves them a generation up
        garbage = weakref.ref(dropped)
        del dropped
        settle()
        assert garbage() is None
        assert not in_collections(kept[0])
        print("ok")
        """) == "ok"
