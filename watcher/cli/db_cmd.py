"""``watcher db upgrade`` and ``watcher db copy --to URL``: the index's schema and its move
to another database (see docs/store.md)."""

from __future__ import annotations

import argparse
from typing import Any

from watcher.cli.common import add_command, config_from_args
from watcher.cli.exit_codes import ExitCode


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    db = add_command(subparsers, common, "db", None, help="the index's schema and its copies",
                     description="Create or upgrade the index's schema, or copy the index "
                                 "to another database.")
    actions = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    add_command(
        actions, common, "upgrade", cmd_upgrade,
        help="create the index's schema, or bring it to this version's",
        description="Apply the schema migrations the index lacks (a SQLite index is backed "
                    "up beside itself first); on PostgreSQL also the job queue's tables "
                    "(procrastinate). Running it again does nothing. "
                    "Example: watcher db upgrade")
    copy = add_command(
        actions, common, "copy", cmd_copy,
        help="copy the index into another database (PostgreSQL)",
        description="Copy feeds and their HTTP state, seen entries, articles, matches, "
                    "learned boilerplate and the outbox into the index at URL, upgrading its "
                    "schema first. Run twice, it copies nothing twice. "
                    "Example: watcher db copy --to postgresql://watcher@db.example/watcher")
    copy.add_argument("--to", metavar="URL", required=True,
                      help="the target index, e.g. postgresql://user:password@host/database")


def cmd_upgrade(args: argparse.Namespace) -> int:
    from watcher.cluster import is_cluster_index
    from watcher.cluster.queue import upgrade_queue
    from watcher.store.db import upgrade_index

    config = config_from_args(args)
    config.state_dir.mkdir(parents=True, exist_ok=True)
    print(upgrade_index(config.database_url))
    if is_cluster_index(config.database_url):
        print(upgrade_queue(config.database_url))
    return ExitCode.OK


def cmd_copy(args: argparse.Namespace) -> int:
    from watcher.progress import Progress
    from watcher.store.db import copy_to

    config = config_from_args(args)
    with Progress("rows copied") as progress:
        def rows_read(done: int, total: int) -> None:
            progress.total = total
            progress.advance(done - progress.done)

        # Counting the rows first costs a query per table: only for a terminal.
        for line in copy_to(config, args.to, rows_read if progress.shown else None):
            progress.close()  # the progress line makes way for the result's line
            print(line, flush=True)
    return ExitCode.OK
