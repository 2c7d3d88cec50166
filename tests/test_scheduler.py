"""Live reload of rules: a good edit takes effect, a bad one keeps the last good rules."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from watcher.pipeline import PollReport
from watcher.scheduler import CycleSummary, LiveRules, validate


def setup(tmp_path: Path, rules: str) -> Path:
    (tmp_path / "rules.yaml").write_text(rules, encoding="utf-8")
    config = tmp_path / "watcher.yaml"
    config.write_text("state_dir: state\nrules: rules.yaml\n", encoding="utf-8")
    return config


def touch_later(path: Path, text: str) -> None:
    before = path.stat().st_mtime
    path.write_text(text, encoding="utf-8")
    os.utime(path, (before + 5, before + 5))  # a clear change even on coarse clocks


def test_rules_reload_good_and_bad_edits(tmp_path: Path,
                                         caplog: pytest.LogCaptureFixture) -> None:
    config_path = setup(tmp_path, "rules:\n  - name: a\n    query: MI6\n")
    config, rules, problems = validate(config_path)
    assert config and rules and not problems
    live = LiveRules(config, rules)
    assert not live.reload_if_changed(config)  # nothing changed

    touch_later(config.rules_path, "rules:\n  - name: a\n    query: MI6\n"
                                   "  - name: b\n    query: Wagner\n")
    assert live.reload_if_changed(config)
    assert [r.name for r in live().rules] == ["a", "b"]

    touch_later(config.rules_path, "rules:\n  - name: a\n    query: '(MI6'\n")
    assert not live.reload_if_changed(config)
    assert [r.name for r in live().rules] == ["a", "b"]  # the last good rules keep running
    assert "keeping the last good rules" in caplog.text
    assert "rules.yaml:3:" in caplog.text


def test_validate_reports_both_files(tmp_path: Path) -> None:
    config_path = setup(tmp_path, "rules:\n  - name: a\n    qeury: MI6\n")
    config_path.write_text("state_dir: state\nrules: rules.yaml\nfeds: []\n")
    _config, _rules, problems = validate(config_path)
    assert {Path(p.file).name for p in problems} == {"watcher.yaml", "rules.yaml"}


def test_cycle_summary() -> None:
    summary = CycleSummary((
        PollReport(feed="a", status="ok", new_entries=3, matches={"mi6": 2}),
        PollReport(feed="b", status="not_modified"),
        PollReport(feed="c", status="error", error="HTTP 404 Not Found"),
    ))
    text = summary.render()
    assert "feeds: 2 ok, 1 failed" in text
    assert "new entries: 3" in text and "  mi6: 2" in text
    assert "failed: c: HTTP 404 Not Found" in text
