"""The ``watcher`` command: a thin argparse layer over the library.

Each command group lives in its own module exposing ``register(subparsers)``; a command
sets ``handler`` (``(args) -> int`` exit code) with ``set_defaults``.
Exit codes: ``watcher.cli.exit_codes.ExitCode`` (0 ok, 1 the command failed, 2 bad
config/usage).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from watcher import __version__
from watcher.cli.exit_codes import ExitCode
from watcher.errors import ConfigError, WatcherError
from watcher.logformat import LOG_FORMATS, formatter

COMMAND_MODULES = ("watcher.cli.core", "watcher.cli.feeds_cmd", "watcher.cli.rules_cmd",
                   "watcher.cli.digest_cmd", "watcher.cli.db_cmd", "watcher.cli.status_cmd")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", metavar="PATH", dest="config", default=argparse.SUPPRESS,
        help="watcher.yaml to use (env WATCHER_CONFIG; default config/watcher.yaml)")
    parser = argparse.ArgumentParser(
        prog="watcher", parents=[common],
        description="Self-hosted news watcher: polls feeds, matches rules, sends digests.")
    parser.add_argument("--version", action="version", version=f"watcher {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--log-format", choices=LOG_FORMATS, default="text",
                        help="text (default) or json: one JSON object per line, for log "
                             "shippers")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "config"):
        args.config = None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(args.log_format))
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        handlers=[handler])
    # httpx logs every request URL at INFO; a webhook URL is a secret, and our own poll
    # lines already say what was fetched.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # APScheduler logs every run of every job (the reload check runs every few seconds); our own
    # lines say what each job did, so only its warnings and errors are kept.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    try:
        code: int = args.handler(args)
        return code
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return ExitCode.CONFIG
    except WatcherError as exc:
        print(f"watcher: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
