"""``watcher status`` on a single-machine index, and the pure parts of the cluster's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from watcher.cli import main
from watcher.cluster.status import (
    ClusterStatus,
    QueueCounts,
    count_queues,
    oldest_due_feed,
    render_status,
)
from watcher.store.lock import lock_holder, state_lock

NOW = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)


def test_oldest_due_feed_is_the_one_waiting_longest() -> None:
    assert oldest_due_feed({}, NOW) is None
    assert oldest_due_feed({"a": NOW + timedelta(minutes=1)}, NOW) is None
    assert oldest_due_feed({"a": NOW - timedelta(minutes=1), "b": NOW - timedelta(hours=1),
                            "c": NOW + timedelta(hours=1)}, NOW) == (
        "b", NOW - timedelta(hours=1))
    assert oldest_due_feed({"new": None}, NOW) == ("new", NOW)


def test_queue_counts_split_running_from_stalled() -> None:
    counts = count_queues([("polls", "todo", 5, 0), ("polls", "doing", 3, 1),
                           ("entries", "failed", 2, 0)])
    assert counts == {"polls": QueueCounts(waiting=5, running=2, failed=0, stalled=1),
                      "entries": QueueCounts(failed=2)}
    lines = render_status(ClusterStatus(2, 1, None, counts, ("bbc", NOW)))
    assert lines[0] == "workers: 2 alive, 1 silent"
    assert lines[1].startswith("scheduler: none")
    assert "queue polls: 5 waiting, 2 running, 0 failed, 1 stalled" in lines
    assert lines[-1] == "oldest due feed: bbc (due 2026-12-05 06:00:00 UTC)"


def test_status_on_sqlite_names_the_one_daemon(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "watcher.yaml").write_text(
        "state_dir: state\nfeeds:\n  - {name: a, url: 'https://a.example/rss'}\n")
    config = str(tmp_path / "watcher.yaml")
    assert main(["status", "--config", config]) == 0
    out = capsys.readouterr().out
    assert "daemon: not running" in out
    assert "feeds: 0, 0 due now" in out  # the store learns of feeds when the daemon starts
    with state_lock(tmp_path / "state"):
        assert lock_holder(tmp_path / "state") is not None
        assert main(["status", "--config", config]) == 0
        assert "daemon: running, pid " in capsys.readouterr().out
    assert lock_holder(tmp_path / "state") is None
