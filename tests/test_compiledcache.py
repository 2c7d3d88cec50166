"""Compiled rules are kept in the user's cache and read back while the rules, watcher's code
and the libraries are the same (watcher/compiledcache.py); the fork server starts from them
(entrywork.preload_rules)."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from tests.rules.helpers import article
from watcher import compiledcache, entrywork
from watcher.compiledcache import compiled_key, remembered_compile
from watcher.entrywork import preload_rules
from watcher.rules import Rule, RuleSet, compile_query

# One rule of every shape the compiler generates code for: words, phrases, prefixes, case,
# fields, NEAR and ONEAR, regexes, metadata, negation, min_hits, feed globs, a disabled rule.
RULES = (
    Rule("spies", '"MI6 chief" AND (defect* OR Russia) NOT sport', feeds=("bbc-*",)),
    Rule("near", "chief NEAR/3 door OR (always ONEAR/1 open)"),
    Rule("case", "=US AND title:(election OR vote)"),
    Rule("pattern", r"/\bMI[56]\b/ AND site:bbc.co.uk"),
    Rule("language", "lang:en AND Kremlin", min_hits=2),
    Rule("negated", "NOT football"),
    Rule("other-feed", "MI6", feeds=("reuters",)),
    Rule("off", "MI6", enabled=False),
    Rule("東京", "title:東京"),
)
ARTICLES = [
    article("MI6 chief invites Russian officials to defect",
            "The door is always open, says MI6 chief",
            "The head of MI6 said the door is always open to defectors.\nKremlin, Kremlin."),
    article("US election: the vote in 東京", "", "=US voters and the US count"),
    article("Football results", "", "MI6 chief watches football", feed="reuters"),
    article("", "", ""),
]


class CountedCompile:
    """Compiles ``rules`` as the fork server does, counting how often it really ran."""

    def __init__(self, rules: tuple[Rule, ...] = RULES) -> None:
        self.rules, self.runs = rules, 0

    def __call__(self) -> RuleSet:
        self.runs += 1
        compiled = RuleSet(self.rules)
        compiled.triggers  # noqa: B018 - built before keeping, as compile_rules does
        return compiled

    def remembered(self, rules_path: Path, folder: Path) -> RuleSet:
        return remembered_compile(rules_path, self.rules, self, folder=folder)


@pytest.fixture
def rules_path(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text("rules: []  # the rules these tests pass were checked from here\n")
    return path


def kept_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("compiled-*.pickle"))


def test_rules_compiled_once_are_read_back_and_match_the_same(rules_path: Path,
                                                             tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    compiling = CountedCompile()
    compiled = compiling.remembered(rules_path, folder)
    assert compiling.runs == 1
    [kept] = kept_files(folder)
    assert kept.stat().st_mode & 0o777 == 0o600
    loaded = compiling.remembered(rules_path, folder)
    assert compiling.runs == 1  # read back, not compiled
    assert loaded is not compiled
    # The file holds each rule as its place: the set read back shares the caller's rules.
    assert all(kept is given for kept, given in zip(loaded.rules, RULES, strict=True))
    assert loaded.compiled.active[0] is RULES[0]
    for each in ARTICLES:
        assert loaded.match(each) == compiled.match(each) == RuleSet(RULES).match(each)
    assert [m.rule for m in loaded.match(ARTICLES[0])] == ["spies", "near", "pattern",
                                                           "language", "negated"]
    # What explain asks later (sub-queries of other thresholds) can still be added.
    assert loaded.compiled.leaf_id(loaded.queries["spies"].root, 5) >= 0


def test_other_rules_or_code_are_compiled_again(rules_path: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "cache"
    CountedCompile().remembered(rules_path, folder)
    edited = CountedCompile((*RULES[:-1], Rule("東京", "title:東京", min_hits=2)))
    assert [m.rule for m in edited.remembered(rules_path, folder).match(ARTICLES[1])] == [
        "case", "negated"]  # 東京 is in the title once, not twice
    assert edited.runs == 1
    assert len(kept_files(folder)) == 1  # one file per rules.yaml, replaced
    monkeypatch.setattr(compiledcache, "code_digest", lambda: "another watcher")
    assert compiled_key(edited.rules) != compiled_key(RULES)
    edited.remembered(rules_path, folder)
    assert edited.runs == 2


def test_a_damaged_or_foreign_file_is_compiled_again(rules_path: Path,
                                                     tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    compiling = CountedCompile()
    compiling.remembered(rules_path, folder)
    [kept] = kept_files(folder)
    whole = kept.read_bytes()
    kept.write_bytes(whole[: len(whole) // 2])  # cut short, as by a full disk
    assert compiling.remembered(rules_path, folder).match(ARTICLES[0])
    assert compiling.runs == 2
    compiling.remembered(rules_path, folder)
    assert compiling.runs == 2  # rewritten whole, and read back
    # A file that others may write could hold any pickle: it is never loaded.
    kept.chmod(0o666)
    compiling.remembered(rules_path, folder)
    assert compiling.runs == 3
    # The right header over a pickle of something else is not a rule set.
    header = whole.split(b"\n", 1)[0] + b"\n"
    kept.write_bytes(header + pickle.dumps({"not": "rules"}))
    kept.chmod(0o600)
    compiling.remembered(rules_path, folder)
    assert compiling.runs == 4


def test_rules_that_read_the_environment_are_never_kept(tmp_path: Path) -> None:
    rules_path = tmp_path / "rules.yaml"
    rules_path.write_text("rules:\n  - name: secret\n    query: ${SECRET_WORD}\n")
    folder = tmp_path / "cache"
    compiling = CountedCompile()
    compiling.remembered(rules_path, folder)
    compiling.remembered(rules_path, folder)
    assert compiling.runs == 2
    assert kept_files(folder) == []


def test_an_unwritable_cache_only_costs_the_compile(rules_path: Path, tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    folder.write_text("a file where the folder should be")
    compiling = CountedCompile()
    assert compiling.remembered(rules_path, folder).match(ARTICLES[0])
    assert compiling.remembered(rules_path, folder).match(ARTICLES[0])
    assert compiling.runs == 2


def test_the_fork_server_starts_from_the_kept_rules(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(entrywork, "_preloaded", None)
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - name: spies\n    query: MI6 AND defect*\n")
    config = tmp_path / "watcher.yaml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\nrules: {rules}\nfeeds: []\n")
    assert preload_rules(config)
    assert len(kept_files(tmp_path / "cache" / "watcher")) == 1
    compiled = entrywork._preloaded

    def no_compile(*_args: object) -> RuleSet:
        raise AssertionError("compiled again")

    monkeypatch.setattr(entrywork, "_compiled", no_compile)
    monkeypatch.setattr(entrywork, "_preloaded", None)
    assert preload_rules(config)
    assert entrywork._preloaded is not None and compiled is not None
    assert entrywork._preloaded[0] == compiled[0]
    assert [m.rule for m in entrywork._preloaded[1].match(ARTICLES[0])] == ["spies"]
    assert os.environ["XDG_CACHE_HOME"] == str(tmp_path / "cache")


def test_a_query_pickles_whole() -> None:
    query = compile_query(r'"MI6 chief" NEAR/3 (door OR gate*) -=US /\bMI[56]\b/ site:bbc.co.uk')
    loaded = pickle.loads(pickle.dumps(query))
    assert loaded == query
    assert repr(loaded) == repr(query)  # the spans too, which equality leaves out
