"""Compiled rules kept in the user's cache: a start with the same rules loads them instead
of compiling them.

The workers' fork server compiles the config's rules before it forks the first worker
(``forkserver.py``), so at thousands of rules the compile holds back every worker's first
task, and a ``run --once`` from cron pays it on every run. Loading the compiled set from a
pickle costs a fraction of compiling it (docs/performance.md, "A twenty-first round").

The key is everything the compiled form depends on: the rules as checked, every field of
every rule; the code that compiles and matches them and watcher's version
(``rulecache.code_digest``); and the versions of Python and pyahocorasick, whose automaton
pickles in its own binary form. One file per rules.yaml path
(``compiled-<digest of the path>.pickle``), replaced whole (``atomic.replacing``); a file
under another key is compiled again and replaced.

Loading a pickle can run code, so only a file that this user owns and that no one else may
write is read; the folder is the user's own cache, and whoever can write there can already
run code as the user. A file that cannot be read, or does not load, is compiled again: the
cache never stops a start. As with the kept checks (``rulecache.py``), rules from a file
that reads the environment (``${VAR}``) are never kept, since they could hold its values.
"""

from __future__ import annotations

import copyreg
import hashlib
import os
import pickle
import sys
from collections.abc import Callable
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path
from typing import Any, BinaryIO

from watcher.atomic import replacing
from watcher.rulecache import code_digest, kept_file
from watcher.rules import Rule, RuleSet
from watcher.usercache import cache_folder

FORMAT = b"watcher-compiled-rules-1"


def remembered_compile(rules_path: Path, rules: tuple[Rule, ...],
                       compile_rules: Callable[[], RuleSet], *,
                       folder: Path | None = None) -> RuleSet:
    """``rules`` (checked from the rules.yaml at ``rules_path``) compiled: read back from
    ``folder`` (``cache_folder()`` by default) when they were compiled before, otherwise
    ``compile_rules()``, whose answer is kept there."""
    folder = folder or cache_folder()
    try:
        reads_environment = b"${" in rules_path.read_bytes()
    except OSError:
        reads_environment = True  # cannot tell: keep nothing
    if folder is None or reads_environment:
        return compile_rules()
    key = compiled_key(rules)
    kept = kept_file(folder, "compiled", rules_path, ".pickle")
    loaded = _read(kept, key, rules)
    if loaded is not None:
        return loaded
    compiled = compile_rules()
    _keep(kept, key, compiled)
    return compiled


def compiled_key(rules: tuple[Rule, ...]) -> str:
    """What the compiled form of ``rules`` depends on, as one digest. A rule's repr names
    every field (all of them plain strings, numbers and tuples of strings), so two rule
    tuples with the same repr are the same rules."""
    digest = hashlib.sha256(b"\0".join((
        FORMAT, code_digest().encode(), sys.version.encode(), _automaton_version().encode(),
        repr(rules).encode("utf-8", "surrogatepass"))))
    return digest.hexdigest()


@lru_cache(maxsize=1)
def _automaton_version() -> str:
    return version("pyahocorasick")


def _header(key: str) -> bytes:
    return FORMAT + b" " + key.encode() + b"\n"


class _RulesByPlace(pickle.Pickler):
    """Pickles each of the compiled set's rules as its place in the set: whoever reads the
    file holds the same rules (the key says so), and the loaded set takes those, where
    copies would be 10,000 more objects at 10,000 rules. A reducer for the one class (a
    lookup in C for every other object), not ``persistent_id``, which would be a Python
    call for each of the set's hundreds of thousands of objects."""

    def __init__(self, file: BinaryIO, rules: tuple[Rule, ...]) -> None:
        places = {id(rule): place for place, rule in enumerate(rules)}

        def by_place(rule: Rule) -> tuple[Callable[[int], Rule], tuple[int]]:
            return _rule_at, (places[id(rule)],)

        self.dispatch_table = {**copyreg.dispatch_table, Rule: by_place}
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)


def _rule_at(place: int) -> Rule:
    """What a pickled rule calls for: ``_RulesFromPlaces`` answers it with the reader's."""
    raise pickle.UnpicklingError("a kept rule set is read by _RulesFromPlaces only")


class _RulesFromPlaces(pickle.Unpickler):
    def __init__(self, file: BinaryIO, rules: tuple[Rule, ...]) -> None:
        super().__init__(file)
        self._rules = rules

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == (__name__, _rule_at.__name__):
            return self._rules.__getitem__
        return super().find_class(module, name)


def _read(kept: Path, key: str, rules: tuple[Rule, ...]) -> RuleSet | None:
    try:
        with kept.open("rb") as handle:
            status = os.fstat(handle.fileno())
            if status.st_uid != os.geteuid() or status.st_mode & 0o022:
                return None  # another user's, or one that others may have written
            if handle.readline() != _header(key):
                return None
            loaded = _RulesFromPlaces(handle, rules).load()
    # Absent, of another key, cut short or from a watcher whose classes differ: any of
    # these, whatever it raises, is compiled again and rewritten.
    except Exception:
        return None
    return loaded if isinstance(loaded, RuleSet) else None


def _keep(kept: Path, key: str, compiled: RuleSet) -> None:
    try:
        kept.parent.mkdir(parents=True, exist_ok=True)
        with replacing(kept, prefix=".compiled-", suffix=".part") as handle:
            handle.write(_header(key))
            _RulesByPlace(handle, compiled.rules).dump(compiled)
    # A read-only or full disk, or a rule set that does not pickle: the cache is only an
    # optimisation, and this runs in the fork server, where an error would stop every
    # worker from starting.
    except Exception:
        pass
