"""The rules in force in a running watcher, and their reload when rules.yaml changes."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from watcher.checks import check_rules_for
from watcher.config import Config
from watcher.memory import settle_in_memory
from watcher.rules import RuleSet

log = logging.getLogger("watcher.daemon")


def file_stamp(path: Path) -> tuple[float, int] | None:
    """What tells an edited file from an unchanged one (None: the file is missing)."""
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime, info.st_size


class LiveRules:
    """The rules in force; replaced only by a version of rules.yaml that checks clean."""

    def __init__(self, config: Config, rules: RuleSet) -> None:
        self.config = config
        self.rules = rules
        self._stamp = file_stamp(config.rules_path)
        settle_in_memory()

    def __call__(self) -> RuleSet:
        return self.rules

    async def reload_if_changed(self, config: Config) -> bool:
        """Reload when rules.yaml (or the config's digests and channels it is checked
        against, or its path) changed; True when new rules are in force."""
        stamp = file_stamp(config.rules_path)
        if stamp == self._stamp and _same_rule_context(config, self.config):
            return False
        self._stamp, self.config = stamp, config
        # In a thread: reading and compiling thousands of rules takes seconds, which on the
        # event loop would hold up every fetch in flight. Matching goes on with the rules in
        # force.
        rules, problems = await asyncio.to_thread(check_rules_for, config)
        if rules is None or problems:
            log.error("rules.yaml has errors; keeping the last good rules:\n%s",
                      "\n".join(str(p) for p in problems))
            return False
        self.rules = rules
        settle_in_memory()
        log.info("rules reloaded: %d rules", len(rules.rules))
        return True


def _same_rule_context(new: Config, old: Config) -> bool:
    return (new.rules_path == old.rules_path
            and [d.name for d in new.digests] == [d.name for d in old.digests]
            and [c.name for c in new.channels] == [c.name for c in old.channels])
