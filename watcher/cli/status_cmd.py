"""``watcher status``: who is working, and how far behind the work is."""

from __future__ import annotations

import argparse
import dataclasses
from datetime import UTC, datetime
from typing import Any

from watcher.cli.common import add_command, config_from_args
from watcher.cli.exit_codes import ExitCode


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    add_command(subparsers, common, "status", cmd_status,
                help="workers, scheduler, queues and the oldest due feed",
                description="On PostgreSQL: the cluster's live workers, its scheduler's host, "
                            "jobs waiting, running, failed or stalled per queue, and the "
                            "feed that waits longest. On SQLite: the one daemon, if running. "
                            "Example: watcher status")


def cmd_status(args: argparse.Namespace) -> int:
    from watcher.cluster.queue import conninfo
    from watcher.cluster.status import oldest_due_feed, read_cluster_status, render_status
    from watcher.store import Store
    from watcher.store.lock import lock_holder

    config = config_from_args(args)
    now = datetime.now(UTC)
    with Store.open(config) as store:
        next_polls = {name: state.next_poll for name, state in store.feed_states().items()
                      if state.status != "gone"}
        pushed = [sub for sub in store.websub.all() if sub.active(now)]
    if pushed:
        print(f"websub: {len(pushed)} feeds pushed by their hubs (polled at "
              f"poll.max_interval meanwhile)")
    oldest = oldest_due_feed(next_polls, now)
    if config.database_url.startswith("sqlite"):
        holder = lock_holder(config.state_dir)
        print(f"index: SQLite {config.index_path} (one process does all the work)")
        print(f"daemon: running, pid {holder}" if holder else "daemon: not running")
        print(f"feeds: {len(next_polls)}, {_due(next_polls, now)} due now")
        if oldest:
            print(f"oldest due feed: {oldest[0]} (due {oldest[1]:%Y-%m-%d %H:%M:%S %Z})")
        return ExitCode.OK
    status = read_cluster_status(
        conninfo(config.database_url),
        stall_seconds=config.cluster.stall_timeout.total_seconds())
    print(f"feeds: {len(next_polls)}, {_due(next_polls, now)} due now")
    for line in render_status(dataclasses.replace(status, oldest_due_feed=oldest)):
        print(line)
    return ExitCode.OK


def _due(next_polls: dict[str, datetime | None], now: datetime) -> int:
    return sum(1 for when in next_polls.values() if when is None or when <= now)
