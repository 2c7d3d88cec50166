"""Loading watcher.yaml: one pass that reads every key and reports every problem.

Relative paths resolve against the config file's folder. Unknown keys, wrong types,
duplicate names and missing ``${VAR}`` are all reported together, never one at a time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from watcher.config.model import Config
from watcher.config.reader import Reading, read_mapping
from watcher.config.values import did_you_mean
from watcher.errors import ConfigError, Problem
from watcher.web.access import is_loopback
from watcher.yamlpos import YamlDoc, load_yaml

DEFAULT_CONFIG = Path("config/watcher.yaml")
CONFIG_ENV = "WATCHER_CONFIG"


def resolve_config_path(cli_value: str | None, environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(cli_value or env.get(CONFIG_ENV) or DEFAULT_CONFIG)


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> Config:
    """Load and validate watcher.yaml; raises ConfigError listing every problem."""
    config, problems = check_config(path, environ)
    if problems or config is None:
        raise ConfigError(problems)
    return config


def check_config(path: Path, environ: Mapping[str, str] | None = None
                 ) -> tuple[Config | None, list[Problem]]:
    doc = load_yaml(path, display_name=str(path), environ=environ)
    if doc.data is None:
        return None, doc.problems
    reading = Reading(doc, folder=path.resolve().parent)
    config = Config(path=path.resolve(), **read_mapping(reading, (), Config))
    _check_across_keys(doc, config)
    return config, doc.problems


def _check_across_keys(doc: YamlDoc, config: Config) -> None:
    """What no single key can say alone: names used in one place and defined in another."""
    known = {c.name for c in config.channels}
    for index, digest in enumerate(config.digests):
        for position, name in enumerate(digest.channels):
            if name not in known:
                doc.problem(("digests", index, "channels", position),
                            f"unknown channel '{name}'{did_you_mean(name, known)}")
    for position, name in enumerate(config.alerts.channels):
        if name not in known:
            doc.problem(("alerts", "channels", position),
                        f"unknown channel '{name}'{did_you_mean(name, known)}")
    if config.poll.max_interval < config.poll.min_interval:
        doc.problem(("poll", "max_interval"), "max_interval: must be at least min_interval")
    if config.http is not None and config.http.token is None and not is_loopback(
            config.http.host):
        doc.problem(("http", "listen"),
                    f"listen: {config.http.host} is reachable from other machines; set "
                    "http.token (e.g. token: ${WATCHER_HTTP_TOKEN}) or listen on 127.0.0.1")
