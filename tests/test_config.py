"""watcher.yaml: every problem reported with file:line:col; values resolved as documented."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from watcher.config import (
    USER_AGENT,
    AlertConfig,
    AppriseChannel,
    ClusterConfig,
    DigestConfig,
    EmailChannel,
    ExtractConfig,
    FeedConfig,
    FileChannel,
    HttpConfig,
    KeepDefault,
    NetworkConfig,
    PollConfig,
    SlackChannel,
    as_positive_int,
    check_config,
    key,
    load_config,
    parse_duration,
    parse_size,
)
from watcher.config.reader import Reading, read_mapping
from watcher.config.values import as_upper_str
from watcher.errors import ConfigError
from watcher.yamlpos import load_yaml

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


def test_the_index_defaults_to_sqlite_in_state_dir_and_reads_its_url_from_the_env(
        tmp_path: Path) -> None:
    path = write(tmp_path, "state_dir: data\nindex: ${WATCHER_INDEX_URL:-}\n")
    default = load_config(path, environ={})
    assert default.index is None
    assert default.database_url == f"sqlite:///{tmp_path / 'data' / 'index.sqlite3'}"
    url = "postgresql://watcher:s3cret@db.example/watcher"
    assert load_config(path, environ={"WATCHER_INDEX_URL": url}).database_url == url
    bad = messages(write(tmp_path, "index: mysql://root:s3cret@db/x\n"))
    assert bad == ["1:8: index: expected postgresql://user:password@host/database or "
                   "sqlite:///path/to/index.sqlite3"]


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


def test_defaults_when_nothing_is_written(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "{}\n"), environ={})
    assert config.store == "matched" and config.keep_text == timedelta(days=30)
    assert config.log_level == "INFO"
    assert config.poll == PollConfig(interval=timedelta(minutes=15), jitter=0.1, max_entries=100,
                                     concurrency=8, max_backoff=timedelta(hours=6),
                                     failing_after=5)
    assert config.network == NetworkConfig(
        allow=(), user_agent=USER_AGENT, connect_timeout=10.0, read_timeout=20.0,
        total_timeout=60.0, max_feed_bytes=16 * 1024 * 1024, max_page_bytes=8 * 1024 * 1024,
        max_redirects=5, per_host_concurrency=2, per_host_min_gap=0.5)
    assert config.extract == ExtractConfig(workers=0, timeout=20.0, boilerplate_min_articles=3,
                                           boilerplate_window=timedelta(days=30))
    assert config.alerts == AlertConfig(channels=(), throttle=timedelta(minutes=10))
    assert (config.feeds, config.channels, config.digests) == ((), (), ())


FULL = """\
state_dir: /abs/state
rules: sub/r.yaml
index: postgresql://w:pw@db.example/watcher
store: all
articles: s3://bucket/some/prefix
keep_text: 2d
log_level: debug
poll: {interval: 20m, jitter: 0.2, max_entries: 5, concurrency: 3, max_backoff: 1h,
       failing_after: 2, min_interval: 1m, max_interval: 2h}
network: {allow: [10.0.0.0/8, localhost], user_agent: ua, connect_timeout: 1, read_timeout: 2.5,
          total_timeout: 9, max_feed_bytes: 1MiB, max_page_bytes: 2kb, max_redirects: 0,
          per_host_concurrency: 4, per_host_min_gap: 0}
extract: {workers: 2, timeout: 3, boilerplate_min_articles: 4, boilerplate_window: 1w}
feeds:
  - {name: a, url: "https://a.example/x", interval: 45s, enabled: false}
  - {name: b, url: " http://b.example/x ", websub: false}
  - {name: c, url: "https://c.example/s", type: sitemap, tags: [t1, t2], interval: auto}
channels:
  - {name: m, type: email, smtp: "smtp://h:25", from: a@b, to: c@d}
  - {name: s, type: slack, webhook: "https://hooks"}
  - {name: f, type: file, dir: out}
  - {name: ap, type: apprise, url: "json://x", urls: ["a://b", 3]}
digests:
  - {name: d, schedule: "0 7 * * *", timezone: Europe/Paris, channels: [m, s], rules: [r1],
     min_items: 0, send_empty: true, include_alerted: true}
  - {name: e, schedule: "*/5 * * * *", rules: }
  - {name: g, schedule: "1 2 * * *"}
alerts: {channels: [f], throttle: 90}
http: {listen: "[::]:9090", token: t0k, public_url: "https://w.example/"}
cluster: {stall_timeout: 1m, keep_done_jobs: 6h, keep_failed_jobs: 30d}
"""


def test_every_key_is_read_with_its_own_parser(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL), environ={})
    assert (config.state_dir, config.rules_path) == (Path("/abs/state"), tmp_path / "sub/r.yaml")
    assert config.database_url == "postgresql://w:pw@db.example/watcher"
    assert (config.store, config.keep_text, config.log_level) == ("all", timedelta(days=2),
                                                                  "DEBUG")
    assert config.articles_location == "s3://bucket/some/prefix"
    assert config.poll == PollConfig(timedelta(minutes=20), 0.2, 5, 3, timedelta(hours=1), 2,
                                     min_interval=timedelta(minutes=1),
                                     max_interval=timedelta(hours=2))
    assert config.network == NetworkConfig(("10.0.0.0/8", "localhost"), "ua", 1.0, 2.5, 9.0,
                                           1024 * 1024, 2000, 0, 4, 0.0)
    assert config.extract == ExtractConfig(2, 3.0, 4, timedelta(weeks=1))
    assert config.feeds == (
        FeedConfig("a", "https://a.example/x", timedelta(seconds=45), enabled=False),
        FeedConfig("b", "http://b.example/x", timedelta(minutes=20), websub=False),
        FeedConfig("c", "https://c.example/s", timedelta(minutes=20), kind="sitemap",
                   tags=("t1", "t2"), adaptive=True))
    assert config.channels == (
        EmailChannel("m", "smtp://h:25", "a@b", ("c@d",)),
        SlackChannel("s", "https://hooks"),
        FileChannel("f", tmp_path / "out"),
        AppriseChannel("ap", ("a://b", "3", "json://x")))
    assert config.digests == (
        DigestConfig("d", "0 7 * * *", "Europe/Paris", ("m", "s"), ("r1",), 0, True, True),
        DigestConfig("e", "*/5 * * * *", rules=()),  # written empty: no rule, not every rule
        DigestConfig("g", "1 2 * * *", rules=None))
    assert config.alerts == AlertConfig(("f",), timedelta(seconds=90))
    assert config.http == HttpConfig("::", 9090, "t0k", "https://w.example/")
    assert config.cluster == ClusterConfig(timedelta(minutes=1), timedelta(hours=6),
                                           timedelta(days=30))


def test_bad_values_and_entries_are_all_reported(tmp_path: Path) -> None:
    path = write(tmp_path, """\
store: some
poll: {interval: 10s, max_entries: 0, concurrency: 1.5, bogus: 1}
network: {max_feed_bytes: huge, timeout: 3}
feeds:
  - {name: a, url: "https://a/x"}
  - {name: a, url: "https://a/x", interval: 1m, enabled: 1}
  - 3
channels:
  - {name: c}
  - {name: c, type: emial}
  - {name: d, type: [1]}
  - {name: e, type: email, smtp: [1]}
  - {name: e, type: apprise, url: []}
digests:
  - {name: x, schedule: "0 7 * *", rules: 3.5, extra: 1}
cluster: {stall_timeout: 5s, keep_done_jobs: 10m}
""")
    found = messages(path)
    assert "1:8: store: expected 'matched' or 'all', got 'some'" in found
    assert "2:57: unknown key 'bogus'" in found
    assert "2:36: max_entries: must be at least 1" in found
    assert "2:52: concurrency: expected a whole number, got a number" in found
    assert "3:33: unknown key 'timeout' (did you mean 'read_timeout'?)" in found
    assert "3:27: max_feed_bytes: 'huge' is not a size (use e.g. 512KiB, 16MiB)" in found
    assert "5:5: interval: must be at least 30s" in found  # poll's 10s, inherited
    assert "6:12: duplicate feed name 'a' (first defined on line 5)" in found
    assert "6:20: duplicate feed url (also on line 5)" in found
    assert "6:58: enabled: expected true or false, got a number" in found
    assert found.count("7:5: missing required key 'name'") == 1
    assert "7:5: expected a mapping, got a number" in found
    assert "9:5: channel type must be one of: apprise, email, file, slack" in found
    assert "10:21: unknown channel type 'emial' (did you mean 'email'?)" in found
    assert "11:21: unknown channel type '[1]'" in found  # not a crash
    assert "12:34: smtp: expected a string, got a list" in found
    assert "12:5: missing required key 'from'" in found
    assert "13:12: duplicate channel name 'e' (first defined on line 12)" in found
    assert "13:5: missing required key 'url'" in found
    assert "15:25: schedule: invalid cron schedule '0 7 * *': Wrong number of fields; got 4, " \
           "expected 5" in found
    assert "15:43: rules: expected a list of strings, got a number" in found
    assert "16:26: stall_timeout: must be at least 15s" in found
    assert "16:46: keep_done_jobs: must be at least 3600s" in found
    assert "15:48: unknown key 'extra'" in found


@dataclass(frozen=True)
class Listen:
    listen: str = "127.0.0.1:8080"
    token: str | None = None


def _duration_unless_auto(value: object) -> timedelta:
    if value == "auto":
        raise KeepDefault
    return parse_duration(value)


@dataclass(frozen=True)
class NewKeys:
    min_interval: timedelta = timedelta(minutes=1)
    every: timedelta = field(default=timedelta(minutes=15),
                             metadata=key(parse=_duration_unless_auto))
    auto: bool = field(default=False, metadata=key(yaml="every", parse=lambda v: v == "auto"))
    label: str = field(default="x", metadata=key(yaml="name", parse=as_upper_str))
    tries: int = field(default=3, metadata=key(parse=as_positive_int))
    http: Listen | None = None
    web: Listen | None = None


def test_a_new_field_is_a_key_with_nothing_else_to_edit(tmp_path: Path) -> None:
    path = write(tmp_path, "min_interva: 5m\nname: abc\ntries: 0\nweb: {token: \"${T}\"}\n"
                           "every: auto\n")
    doc = load_yaml(path, display_name="w.yaml", environ={"T": "s3cret"})
    read = NewKeys(**read_mapping(Reading(doc, tmp_path), (), NewKeys))
    assert read == NewKeys(min_interval=timedelta(minutes=1), every=timedelta(minutes=15),
                           auto=True, label="ABC", tries=3, http=None,
                           web=Listen(token="s3cret"))
    assert [str(p) for p in doc.problems] == [
        "w.yaml:1:1: unknown key 'min_interva' (did you mean 'min_interval'?)",
        "w.yaml:3:8: tries: must be at least 1"]


def test_interval_auto_at_poll_level_is_every_feeds_default(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, """\
poll: {interval: auto, min_interval: 3m}
feeds:
  - {name: a, url: "https://a.example/x"}
  - {name: b, url: "https://b.example/x", interval: 5m}
"""), environ={})
    assert (config.poll.adaptive, config.poll.interval) == (True, timedelta(minutes=15))
    assert [(f.adaptive, f.interval) for f in config.feeds] == [
        (True, timedelta(minutes=15)), (False, timedelta(minutes=5))]
    assert load_config(SHIPPED, environ={}).poll.adaptive  # the shipped default


def test_auto_bounds_are_checked(tmp_path: Path) -> None:
    found = messages(write(tmp_path, "poll: {min_interval: 10s, max_interval: 5s}\n"
                                     "feeds:\n  - {name: a, url: 'https://a/x', type: rss}\n"))
    assert "1:22: min_interval: must be at least 30s" in found
    assert "1:41: max_interval: must be at least min_interval" in found
    assert "3:41: type: expected 'feed' or 'sitemap', got 'rss'" in found
