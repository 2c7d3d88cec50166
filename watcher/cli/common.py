"""What every command module does the same way: load the config named by ``--config``, and
declare a sub-command with the shared options, help, description and handler."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from watcher.config import Config, load_config, resolve_config_path


def config_from_args(args: argparse.Namespace) -> Config:
    """The config ``--config`` names (else env WATCHER_CONFIG, else the default path)."""
    return load_config(resolve_config_path(args.config))


def add_command(subparsers: Any, common: argparse.ArgumentParser, name: str,
                handler: Callable[..., int] | None, *, help: str,
                description: str) -> argparse.ArgumentParser:
    """A sub-command taking the shared options (``--config``); ``handler(args) -> exit
    code`` runs it (None for a group whose own sub-commands set theirs)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name, parents=[common], help=help, description=description)
    if handler is not None:
        parser.set_defaults(handler=handler)
    return parser
