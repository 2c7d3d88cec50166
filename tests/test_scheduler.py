"""Live reload of rules: a good edit takes effect, a bad one keeps the last good rules."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from watcher.checks import validate
from watcher.cli.summary import render_summary
from watcher.live_rules import LiveRules
from watcher.pipeline import PollReport
from watcher.runtime import CycleSummary


def setup(tmp_path: Path, rules: str) -> Path:
    (tmp_path / "rules.yaml").write_text(rules, encoding="utf-8")
    config = tmp_path / "watcher.yaml"
    config.write_text("state_dir: state\nrules: rules.yaml\n", encoding="utf-8")
    return config


def touch_later(path: Path, text: str) -> None:
    before = path.stat().st_mtime
    path.write_text(text, encoding="utf-8")
    os.utime(path, (before + 5, before + 5))  # a clear change even on coarse clocks


async def test_rules_reload_good_and_bad_edits(tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    config_path = setup(tmp_path, "rules:\n  - name: a\n    query: MI6\n")
    config, rules, problems = validate(config_path)
    assert config and rules and not problems
    live = LiveRules(config, rules)
    assert not await live.reload_if_changed(config)  # nothing changed

    touch_later(config.rules_path, "rules:\n  - name: a\n    query: MI6\n"
                                   "  - name: b\n    query: Wagner\n")
    assert await live.reload_if_changed(config)
    assert [r.name for r in live().rules] == ["a", "b"]

    touch_later(config.rules_path, "rules:\n  - name: a\n    query: '(MI6'\n")
    assert not await live.reload_if_changed(config)
    assert [r.name for r in live().rules] == ["a", "b"]  # the last good rules keep running
    assert "keeping the last good rules" in caplog.text
    assert "rules.yaml:3:" in caplog.text


async def test_a_large_reload_leaves_the_event_loop_running(tmp_path: Path) -> None:
    config_path = setup(tmp_path, "rules:\n  - name: a\n    query: MI6\n")
    config, rules, _ = validate(config_path)
    assert config and rules
    live = LiveRules(config, rules)
    touch_later(config.rules_path, "rules:\n" + "".join(
        f"  - name: r{i}\n    query: '(spy{i} OR \"agent {i}\") AND NOT noise{i}'\n"
        for i in range(3000)))
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        assert await live.reload_if_changed(config)
    finally:
        ticker.cancel()
    assert len(live().rules) == 3000
    # Compiling 3,000 rules takes a good part of a second; on the loop, nothing else would
    # have run until it was done.
    assert ticks >= 5


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
    text = render_summary(summary)
    assert "feeds: 2 ok, 1 failed" in text
    assert "new entries: 3" in text and "  mi6: 2" in text
    assert "failed: c: HTTP 404 Not Found" in text
