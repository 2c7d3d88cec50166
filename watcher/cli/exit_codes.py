"""The exit codes of every ``watcher`` command, in one place."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # the command ran and failed (a delivery failed, another watcher is running)
    CONFIG = 2  # bad config, rules or usage: fix the input and run again
    INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT
