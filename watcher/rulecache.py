"""A clean check of rules.yaml, remembered in the user's cache: an unchanged file is not
checked again.

Every ``watcher run`` (each cron-driven ``run --once`` too) checks rules.yaml before its
first request, and the check reads the YAML with positions and parses every query, which
at thousands of rules is a visible part of the start (docs/performance.md, "An eighteenth
round", has the figures). Its answer depends only on the file's bytes,
the digest and channel names it is checked against, and watcher's own code that reads
rules; so a clean answer is kept under a key made of exactly those, and a later check with
the same key reads the rules back instead. Anything else (an edit, a renamed digest, a
new watcher) makes a new key and a full check. Only clean answers are kept: problems are
always found afresh, with their positions.

A file that reads the environment (``${VAR}``) is never kept: its rules could hold the
values, which may be secrets, and the cache is plain JSON on disk.

One file per rules.yaml path (``rules-<digest of the path>.json``), replaced whole
(``atomic.replacing``); a cache that cannot be read or written is skipped, never an error.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable, Collection
from functools import lru_cache
from pathlib import Path
from typing import Any

import watcher
import watcher.rules
import watcher.yamlpos
from watcher.atomic import replacing
from watcher.errors import Problem
from watcher.rules import Rule, RuleSet
from watcher.usercache import cache_folder

FORMAT = "watcher-checked-rules-1"
_RULE_FIELDS = tuple(field.name for field in dataclasses.fields(Rule))

Check = Callable[[], tuple[RuleSet | None, list[Problem]]]


@lru_cache(maxsize=1)
def code_digest() -> str:
    """A digest of the code that turns rules.yaml into rules: the rules package and the
    YAML reader, and watcher's version (for an install that keeps no sources). A watcher
    whose reading of rules may differ makes other keys."""
    sources = sorted(Path(watcher.rules.__file__).parent.glob("*.py"))
    sources.append(Path(watcher.yamlpos.__file__))
    digest = hashlib.sha256(watcher.__version__.encode() + b"\0")
    for source in sources:
        digest.update(source.name.encode() + b"\0" + source.read_bytes() + b"\0")
    return digest.hexdigest()


def check_key(content: bytes, digests: Collection[str] | None,
              channels: Collection[str] | None) -> str:
    """What a check's answer depends on, as one digest."""
    names = {"digests": None if digests is None else sorted(digests),
             "channels": None if channels is None else sorted(channels)}
    digest = hashlib.sha256(FORMAT.encode() + b"\0" + code_digest().encode() + b"\0")
    digest.update(json.dumps(names, sort_keys=True).encode() + b"\0")
    digest.update(content)
    return digest.hexdigest()


def remembered_check(path: Path, digests: Collection[str] | None,
                     channels: Collection[str] | None, check: Check, *,
                     folder: Path | None = None) -> tuple[RuleSet | None, list[Problem]]:
    """``check()``'s answer for the rules.yaml at ``path``, read from ``folder``
    (``cache_folder()`` by default) when a clean check of the same key is kept there;
    otherwise checked, and a clean answer kept."""
    folder = folder or cache_folder()
    try:
        content = path.read_bytes()
    except OSError:
        return check()  # the check reports the unreadable file
    if folder is None or b"${" in content:
        return check()
    key = check_key(content, digests, channels)
    kept = kept_file(folder, "rules", path, ".json")
    rules = _read(kept, key)
    if rules is not None:
        return RuleSet(rules), []
    checked, problems = check()
    if checked is not None and not problems:
        _keep(kept, key, checked.rules, path, content)
    return checked, problems


def kept_file(folder: Path, kind: str, rules_path: Path, suffix: str) -> Path:
    """Where ``folder`` keeps ``kind`` for the rules.yaml at ``rules_path``: one file per
    path, named by a digest of the resolved path's bytes (as the system has them, so a
    folder name that is not UTF-8 is a name like any other)."""
    digest = hashlib.sha256(os.fsencode(rules_path.resolve())).hexdigest()[:16]
    return folder / f"{kind}-{digest}{suffix}"


def _read(kept: Path, key: str) -> list[Rule] | None:
    try:
        document = json.loads(kept.read_bytes())
        if document.get("key") != key:
            return None
        return [_rule(item) for item in document["rules"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # absent, from another key, damaged: checked again and rewritten


def _rule(item: dict[str, Any]) -> Rule:
    if set(item) != set(_RULE_FIELDS):
        raise KeyError("not a rule of this format")
    fields: dict[str, Any] = {name: tuple(value) if isinstance(value, list) else value
                              for name, value in item.items()}
    return Rule(**fields)


def _keep(kept: Path, key: str, rules: Collection[Rule], path: Path, content: bytes) -> None:
    """Write the answer, unless the file changed while it was checked (then the answer may
    be the new content's, not the one the key was made from)."""
    document = {"key": key, "rules": [dataclasses.asdict(rule) for rule in rules]}
    try:
        if path.read_bytes() != content:
            return
        kept.parent.mkdir(parents=True, exist_ok=True)
        with replacing(kept, prefix=".rules-", suffix=".part") as handle:
            handle.write(json.dumps(document, ensure_ascii=False).encode("utf-8"))
    except OSError:
        pass  # a read-only or full disk: the cache is only an optimisation
