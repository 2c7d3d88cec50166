"""``watcher run``, ``watcher check`` and ``watcher feeds``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from watcher.cli.common import add_command, config_from_args
from watcher.cli.exit_codes import ExitCode
from watcher.cli.output import duration, shorten, table, when
from watcher.config import Config, resolve_config_path

if TYPE_CHECKING:
    from watcher.rules import RuleSet
    from watcher.runtime import CycleSummary

# A feed whose pages mostly fail to extract (text from the feed, or cut short) is flagged
# once it has enough recent articles to judge.
DEGRADED_MIN_ARTICLES = 5


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    run = add_command(
        subparsers, common, "run", cmd_run,
        help="run the watcher (a daemon, or one cycle with --once)",
        description="Poll every feed on its interval, store and match new articles, send "
                    "digests and alerts. Stops cleanly on SIGTERM/SIGINT. "
                    "Example: watcher run --once")
    run.add_argument("--once", action="store_true",
                     help="poll every feed once, print a summary and exit")
    run.add_argument("--role", choices=("all", "worker"), default="all",
                     help="on a PostgreSQL index: 'worker' only works jobs; 'all' (the "
                          "default) may also be the cluster's scheduler")
    add_command(subparsers, common, "check", cmd_check,
                help="validate watcher.yaml and rules.yaml",
                description="Report every problem as file:line:col: message; exit 2 if any. "
                            "Example: watcher check --config /etc/watcher/watcher.yaml")
    add_command(subparsers, common, "feeds", cmd_feeds,
                help="show each feed's status, errors and schedule",
                description="A table of feeds: status, last success, last error, next poll, "
                            "counts and how many recent articles had their text from the "
                            "page. Example: watcher feeds")


def validated(args: argparse.Namespace) -> tuple[Config, RuleSet]:
    """The config and rules ``--config`` names, and the log level the config sets."""
    from watcher.checks import validated as validated_files

    config, rules = validated_files(resolve_config_path(args.config))
    logging.getLogger().setLevel(
        logging.DEBUG if args.verbose else getattr(logging, config.log_level, logging.INFO))
    return config, rules


def cmd_run(args: argparse.Namespace) -> int:
    from watcher.forkserver import start_fork_server

    # The workers' fork server imports trafilatura, loads the language model and compiles
    # the rules for every worker, the heaviest part of starting, while this process imports
    # the rest of itself and checks the rules on another core.
    start_fork_server(config=resolve_config_path(args.config))
    from watcher.cluster import is_cluster_index
    from watcher.runtime import run_once

    config, rules = validated(args)
    if args.once:
        print(asyncio.run(_summarised(run_once(config, rules))))
        return ExitCode.OK
    from watcher.scheduler import run_daemon  # APScheduler: the daemon's, not a cycle's
    from watcher.supervision import Supervision

    if is_cluster_index(config.database_url):
        from watcher.cluster.run import run_member

        # Several members may share a host and so http.listen: the first serves the pages.
        asyncio.run(run_member(config, rules, role=args.role,
                               services=[Supervision(port_may_be_taken=True)]))
        return ExitCode.OK
    if args.role == "worker":
        print("--role worker needs the index on PostgreSQL (index: in watcher.yaml); a "
              "SQLite index is worked by one process", file=sys.stderr)
        return ExitCode.CONFIG
    asyncio.run(run_daemon(config, rules, services=[Supervision()]))
    return ExitCode.OK


async def _summarised(cycle: Coroutine[Any, Any, CycleSummary]) -> str:
    """The cycle's summary as text, made inside the loop: on its way out ``asyncio.run``
    restores SIGINT's handler, and the standard library then builds the repr of the old
    one, which holds the main task and so its result, a report for every feed."""
    from watcher.cli.summary import render_summary

    return render_summary(await cycle)


def cmd_check(args: argparse.Namespace) -> int:
    config, rules = validated(args)
    print(f"ok: {len(config.feeds)} feeds, {len(rules.rules)} rules, "
          f"{len(config.channels)} channels, {len(config.digests)} digests")
    return ExitCode.OK


def cmd_feeds(args: argparse.Namespace) -> int:
    from watcher.lifecycle import interval_in_force
    from watcher.polling import HISTORY, decide_interval
    from watcher.store import Store
    from watcher.websub.lease import push_shown, pushed_interval

    config = config_from_args(args)
    now = datetime.now(UTC)
    with Store.open(config) as store:
        states = store.feed_states()
        sources = store.text_sources(now - timedelta(days=7))
        decisions = {feed.name: decide_interval(
            feed, config.poll, store.entry_times(feed.name, now - HISTORY), now)
            for feed in config.feeds}
        pushes = {sub.feed: sub for sub in store.websub.all()}
    for name, sub in pushes.items():
        if sub.active(now) and name in decisions:
            decisions[name] = pushed_interval(decisions[name], config.poll.max_interval)
    rows = []
    for feed in config.feeds:
        state = states.get(feed.name)
        if state is None:
            decided = decisions[feed.name]
            rows.append([feed.name, "never polled" if feed.enabled else "disabled",
                         "-", "-", "-", "0", "0", "0", "0", "-", duration(decided.interval),
                         decided.reason, push_shown(pushes.get(feed.name), now)])
            continue
        in_force = interval_in_force(state, decisions[feed.name], config.poll)
        text = sources.get(feed.name, {})
        total = sum(text.values())
        from_page = text.get("page", 0)
        quality = f"{from_page}/{total} page" if total else "-"
        if text.get("partial"):
            quality += f", {text['partial']} partial"
        if total >= DEGRADED_MIN_ARTICLES and from_page < total / 2:
            quality += " DEGRADED"
        status: str = state.status if feed.enabled else "disabled"
        if state.consecutive_failures and status in ("ok", "new"):
            status = f"error x{state.consecutive_failures}"
        rows.append([
            feed.name, status, when(state.last_success, now),
            shorten(state.last_error, 50) if state.consecutive_failures else "-",
            when(state.next_poll, now) if state.status != "gone" else "stopped",
            str(state.polls), str(state.entries_seen), str(state.articles_stored),
            str(state.matches), quality, duration(in_force.interval), in_force.reason,
            push_shown(pushes.get(feed.name), now)])
    print(table(["FEED", "STATUS", "LAST OK", "LAST ERROR", "NEXT POLL", "POLLS", "ENTRIES",
                 "STORED", "MATCHED", "TEXT (7d)", "INTERVAL", "WHY", "PUSH"], rows))
    # The table shortens errors; the whole reason (e.g. the feed URLs an HTML page
    # advertises) is what the user needs to fix the config, so it follows in full.
    failing = [(f.name, states[f.name]) for f in config.feeds
               if f.name in states and states[f.name].consecutive_failures]
    if failing:
        print("\nerrors:")
        for name, state in failing:
            print(f"  {name}: {state.last_error} ({state.consecutive_failures} in a row, "
                  f"last {when(state.last_error_at, now)})")
    moved = [(f.name, states[f.name].url) for f in config.feeds
             if f.name in states and states[f.name].url != f.url]
    for name, url in moved:
        print(f"note: {name} moved permanently to {url}; update its url in {config.path}",
              file=sys.stderr)
    return ExitCode.OK
