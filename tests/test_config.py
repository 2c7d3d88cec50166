"""watcher.yaml: every problem reported with file:line:col; values resolved as documented."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from watcher.config import check_config, load_config, parse_duration, parse_size
from watcher.errors import ConfigError

SHIPPED = Path(__file__).resolve().parent.parent / "config" / "watcher.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "watcher.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def messages(path: Path, environ: dict[str, str] | None = None) -> list[str]:
    _config, problems = check_config(path, environ or {})
    return [f"{p.line}:{p.col}: {p.message}" for p in problems]


def test_shipped_config_is_valid() -> None:
    config = load_config(SHIPPED, environ={})
    assert len(config.feeds) >= 4
    assert config.state_dir == (SHIPPED.parent / "../state").resolve()
    assert config.rules_path == SHIPPED.parent / "rules.yaml"


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    path = write(tmp_path, "state_dir: data\nrules: r.yaml\n")
    config = load_config(path, environ={})
    assert config.state_dir == tmp_path / "data"
    assert config.rules_path == tmp_path / "r.yaml"


def test_feed_interval_defaults_to_poll_interval(tmp_path: Path) -> None:
    path = write(tmp_path, """\
poll:
  interval: 20m
feeds:
  - name: a
    url: https://example.org/a.xml
  - name: b
    url: https://example.org/b.xml
    interval: 5m
""")
    config = load_config(path, environ={})
    assert [f.interval for f in config.feeds] == [timedelta(minutes=20), timedelta(minutes=5)]


def test_every_problem_is_reported_with_its_position(tmp_path: Path) -> None:
    path = write(tmp_path, """\
state_dir: ../state
stroe: all
poll:
  interval: soon
feeds:
  - name: bbc
    url: https://feeds.bbci.co.uk/news/world/rss.xml
  - name: bbc
    url: ftp://example.org/feed
    intervall: 5m
channels:
  - name: mail
    type: email
    smtp: ${WATCHER_SMTP_URL}
    from: a@example.org
    to: [b@example.org]
digests:
  - name: morning
    schedule: "0 7 * *"
    timezone: Europe/Lodnon
    channels: [mail, slack]
""")
    found = messages(path)
    assert "2:1: unknown key 'stroe' (did you mean 'store'?)" in found
    assert any(m.startswith("4:13: interval: 'soon' is not a duration") for m in found)
    assert "8:11: duplicate feed name 'bbc' (first defined on line 6)" in found
    assert "9:10: url: 'ftp://example.org/feed' is not an http(s) URL" in found
    assert "10:5: unknown key 'intervall' (did you mean 'interval'?)" in found
    assert "14:11: environment variable ${WATCHER_SMTP_URL} is not set" in found
    assert any(m.startswith("19:15: schedule: invalid cron schedule") for m in found)
    assert "20:15: timezone: unknown timezone 'Europe/Lodnon'" in found
    assert "21:22: unknown channel 'slack'" in found


def test_env_variables_are_expanded_and_not_reported_when_set(tmp_path: Path) -> None:
    path = write(tmp_path, """\
channels:
  - name: hook
    type: slack
    webhook: ${HOOK}
""")
    config = load_config(path, environ={"HOOK": "https://hooks.slack.com/services/T/B/x"})
    assert config.channels[0].type == "slack"
    assert config.channels[0].webhook.endswith("/x")  # type: ignore[union-attr]


def test_yaml_syntax_error_has_a_position(tmp_path: Path) -> None:
    path = write(tmp_path, "feeds:\n  - name: a\n   url: [\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert caught.value.problems[0].message.startswith("YAML syntax error")
    assert caught.value.problems[0].line >= 2


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    assert "2:1: duplicate key 'store'" in messages(write(tmp_path, "store: all\nstore: all\n"))


def test_unknown_channel_type_suggests(tmp_path: Path) -> None:
    path = write(tmp_path, "channels:\n  - name: x\n    type: emial\n")
    assert "3:11: unknown channel type 'emial' (did you mean 'email'?)" in messages(path)


@pytest.mark.parametrize(("text", "seconds"), [
    ("30s", 30), ("15m", 900), ("2h", 7200), ("7d", 604800), (90, 90), ("1.5h", 5400)])
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["soon", "", "5 minutes", True])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_sizes() -> None:
    assert parse_size("16MiB") == 16 * 1024 * 1024
    assert parse_size(1000) == 1000
