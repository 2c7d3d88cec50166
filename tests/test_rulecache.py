"""A clean check of rules.yaml is remembered in the user's cache and read back while the
file, the names it is checked against and watcher's code are the same (watcher/rulecache.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from watcher import rulecache
from watcher.checks import check_rules_for, validate
from watcher.config import load_config
from watcher.errors import Problem
from watcher.rulecache import remembered_check
from watcher.rules import RuleSet, check_rules

RICH_RULES = """\
rules:
  - name: spies
    query: '"MI6 chief" AND (defect* OR Russia) NOT sport'
    feeds: [bbc-*, reuters]
    alert: immediate
    channels: [ops]
    description: Café — the analyst's rule
    tags: [intel, uk]
    min_hits: 2
  - name: votes
    any: [election, referendum]
    none: [poll]
    digests: [morning]
  - name: quiet
    query: Ukraine
    enabled: false
  - name: 東京
    query: title:東京
"""


class CountedCheck:
    """``check_rules`` of one file, counting how often it really ran."""

    def __init__(self, path: Path, digests: list[str] | None = None,
                 channels: list[str] | None = None) -> None:
        self.path, self.digests, self.channels, self.runs = path, digests, channels, 0

    def __call__(self) -> tuple[RuleSet | None, list[Problem]]:
        self.runs += 1
        return check_rules(self.path, digests=self.digests, channels=self.channels)

    def remembered(self, folder: Path) -> tuple[RuleSet | None, list[Problem]]:
        return remembered_check(self.path, self.digests, self.channels, self, folder=folder)


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(RICH_RULES, encoding="utf-8")
    return path


def test_an_unchanged_clean_file_is_read_back_as_checked(rules_file: Path,
                                                         tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    check = CountedCheck(rules_file, ["morning"], ["ops"])
    fresh, problems = check.remembered(folder)
    assert problems == [] and fresh is not None and check.runs == 1
    again, problems = check.remembered(folder)
    assert check.runs == 1  # not checked again
    assert problems == [] and again is not None
    assert again.rules == fresh.rules  # every field of every rule, tuples and None alike
    assert [rule.name for rule in again.rules] == ["spies", "votes", "quiet", "東京"]
    assert len(list(folder.glob("rules-*.json"))) == 1


def test_a_folder_name_that_is_not_utf8_is_kept_like_any_other(tmp_path: Path) -> None:
    folder = tmp_path / os.fsdecode(b"caf\xe9")  # Latin-1, as an old system may name it
    folder.mkdir()
    path = folder / "rules.yaml"
    path.write_text(RICH_RULES, encoding="utf-8")
    check = CountedCheck(path, ["morning"], ["ops"])
    check.remembered(tmp_path / "cache")
    rules, problems = check.remembered(tmp_path / "cache")
    assert check.runs == 1 and problems == [] and rules is not None


def test_an_edit_a_renamed_digest_or_new_code_is_checked_again(
        rules_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "cache"
    check = CountedCheck(rules_file, ["morning"], ["ops"])
    check.remembered(folder)
    rules_file.write_text(RICH_RULES.replace("Ukraine", "Kyiv"), encoding="utf-8")
    edited, _ = check.remembered(folder)
    assert check.runs == 2 and edited is not None
    assert edited.rules[2].query == "Kyiv"
    # The digest the rule names is gone from the config: a problem, found afresh.
    renamed = CountedCheck(rules_file, ["evening"], ["ops"])
    rules, problems = renamed.remembered(folder)
    assert rules is None and any("morning" in problem.message for problem in problems)
    monkeypatch.setattr(rulecache, "code_digest", lambda: "another watcher")
    check.remembered(folder)
    assert check.runs == 3
    assert len(list(folder.glob("rules-*.json"))) == 1  # one kept answer per rules.yaml


def test_problems_are_never_kept(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - name: broken\n    query: 'MI6 AND (defect'\n")
    check = CountedCheck(path)
    for runs in (1, 2):
        rules, problems = check.remembered(tmp_path / "cache")
        assert rules is None and problems and problems[0].line == 3
        assert check.runs == runs
    assert not (tmp_path / "cache").exists()


def test_a_file_that_reads_the_environment_is_never_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHED_NAME", "Gordievsky")
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - name: spy\n    query: '${WATCHED_NAME}'\n")
    check = CountedCheck(path)
    for runs in (1, 2):
        rules, _ = check.remembered(tmp_path / "cache")
        assert rules is not None and rules.rules[0].query == "Gordievsky"
        assert check.runs == runs
    assert not (tmp_path / "cache").exists()  # the value never reaches the disk


def test_a_damaged_or_foreign_cache_file_is_checked_again_and_rewritten(
        rules_file: Path, tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    check = CountedCheck(rules_file, ["morning"], ["ops"])
    fresh, _ = check.remembered(folder)
    (kept,) = folder.glob("rules-*.json")
    document = json.loads(kept.read_text(encoding="utf-8"))
    for damaged in ("{not json", json.dumps({**document, "rules": [{"name": "x"}]}),
                    json.dumps({**document, "rules": "none"}), ""):
        kept.write_text(damaged, encoding="utf-8")
        rules, problems = check.remembered(folder)
        assert problems == [] and rules is not None and fresh is not None
        assert rules.rules == fresh.rules
    assert check.runs == 5
    assert json.loads(kept.read_text(encoding="utf-8")) == document


def test_a_cache_that_cannot_be_written_leaves_the_check_as_it_was(
        rules_file: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would be")
    check = CountedCheck(rules_file, ["morning"], ["ops"])
    for runs in (1, 2):
        rules, problems = check.remembered(blocked)
        assert rules is not None and problems == [] and check.runs == runs


def test_every_command_reads_the_rules_through_the_cache(
        rules_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``watcher check``, ``run`` and a reload all load rules through
    ``check_rules_for``: the second one finds the first one's answer."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("CACHE_DIRECTORY", raising=False)
    config_path = tmp_path / "watcher.yaml"
    config_path.write_text(
        f"state_dir: {tmp_path / 'state'}\nrules: {rules_file}\nfeeds: []\n"
        "digests:\n  - name: morning\n    schedule: '0 7 * * *'\n    channels: [ops]\n"
        f"channels:\n  - name: ops\n    type: file\n    dir: {tmp_path / 'out'}\n")
    config, first, problems = validate(config_path)
    assert problems == [] and config is not None and first is not None
    assert list((tmp_path / "xdg" / "watcher").glob("rules-*.json"))
    runs: list[Path] = []

    def counted(path: Path, *, digests: list[str], channels: list[str]
                ) -> tuple[RuleSet | None, list[Problem]]:
        runs.append(path)
        return check_rules(path, digests=digests, channels=channels)

    monkeypatch.setattr("watcher.checks.check_rules", counted)
    second, problems = check_rules_for(load_config(config_path))
    assert runs == [] and problems == [] and second is not None
    assert second.rules == first.rules


def test_an_answer_is_not_kept_when_the_file_changed_while_it_was_checked(
        rules_file: Path, tmp_path: Path) -> None:
    class EditedMeanwhile(CountedCheck):
        def __call__(self) -> tuple[RuleSet | None, list[Problem]]:
            answer = super().__call__()
            self.path.write_text(RICH_RULES.replace("Ukraine", "Kyiv"), encoding="utf-8")
            return answer

    folder = tmp_path / "cache"
    EditedMeanwhile(rules_file, ["morning"], ["ops"]).remembered(folder)
    assert not list(folder.glob("rules-*.json"))  # its key would name the old content
    check = CountedCheck(rules_file, ["morning"], ["ops"])
    rules, _ = check.remembered(folder)
    assert check.runs == 1 and rules is not None and rules.rules[2].query == "Kyiv"
