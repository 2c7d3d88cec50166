"""watcher.yaml and the rules.yaml it names, checked together: the one way every command
and the daemon's reload load rules.

Rules are always checked against the config's digest and channel names, so a rule that
names a channel the config lacks is the same problem for ``watcher check``, ``watcher run``,
a reload and ``watcher digest send``.
"""

from __future__ import annotations

from pathlib import Path

from watcher.config import Config, check_config
from watcher.errors import ConfigError, Problem
from watcher.memory import collector_paused
from watcher.rulecache import remembered_check
from watcher.rules import RuleSet, check_rules


def check_rules_for(config: Config) -> tuple[RuleSet | None, list[Problem]]:
    """The config's rules.yaml and every problem in it (``rules`` is None if unusable); an
    unchanged file that checked clean before is read back from the user's cache
    (``rulecache.py``)."""
    digests = [d.name for d in config.digests]
    channels = [c.name for c in config.channels]

    def check() -> tuple[RuleSet | None, list[Problem]]:
        return check_rules(config.rules_path, digests=digests, channels=channels)

    with collector_paused():
        return remembered_check(config.rules_path, digests, channels, check)


def load_rules_for(config: Config) -> RuleSet:
    """The config's rules.yaml compiled; raises ConfigError listing every problem."""
    rules, problems = check_rules_for(config)
    if rules is None or problems:
        raise ConfigError(problems)
    return rules


def validate(config_path: Path) -> tuple[Config | None, RuleSet | None, list[Problem]]:
    """Both files checked together, every problem reported (``watcher check``)."""
    config, problems = check_config(config_path)
    if config is None:
        return None, None, problems
    rules, rule_problems = check_rules_for(config)
    return config, rules, problems + rule_problems


def validated(config_path: Path) -> tuple[Config, RuleSet]:
    """Both files, or a ConfigError listing every problem in either."""
    config, rules, problems = validate(config_path)
    if problems or config is None or rules is None:
        raise ConfigError(problems)
    return config, rules
