"""``watcher rules test`` and ``watcher rules backfill`` on a real SQLite store."""

from __future__ import annotations

import argparse
import io
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.rules.helpers import article
from watcher.cli import rules_cmd
from watcher.config import load_config
from watcher.errors import ConfigError
from watcher.store import Store
from watcher.types import RuleMatch


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def parse(argv: Sequence[str]) -> argparse.Namespace:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=argparse.SUPPRESS)
    parser = argparse.ArgumentParser(parents=[common])
    rules_cmd.register(parser.add_subparsers(dest="command", required=True), common)
    args = parser.parse_args(argv)
    if not hasattr(args, "config"):
        args.config = None
    return args


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    (tmp_path / "rules.yaml").write_text("""\
rules:
  - name: mi6
    query: 'MI6 AND (defect* OR "door is always open")'
  - name: wagner
    any: [Wagner, Prigozhin]
    enabled: false
""", encoding="utf-8")
    path = tmp_path / "watcher.yaml"
    path.write_text("state_dir: state\nrules: rules.yaml\nfeeds: []\n", encoding="utf-8")
    now = datetime.now(UTC)
    items = [
        article("MI6 chief: the door is always open", "", "Russians who defect are welcome.",
                url="https://bbc.co.uk/1", feed="bbc-world"),
        article("Wagner moves", "", "Prigozhin spoke in Rostov.", url="https://g.com/2",
                feed="guardian-world", site="g.com"),
        article("Old MI6 story", "", "A defector from long ago.", url="https://bbc.co.uk/3",
                feed="bbc-world"),
        article("MI6 and the defectors", "", "MI6 said defectors matter.",
                url="https://g.com/4", feed="guardian-world", site="g.com"),
    ]
    ages = [timedelta(hours=5), timedelta(hours=4), timedelta(days=20), timedelta(hours=1)]
    with Store.open(load_config(path)) as store:
        for item, age in zip(items, ages, strict=True):
            aged = type(item)(**{**item.__dict__, "fetched": now - age})
            store.store_article(aged, [], entry_row_id=None, write_file=False, now=now - age)
    return path


def run(argv: Sequence[str], out: io.StringIO | None = None) -> tuple[int, str]:
    out = out if out is not None else io.StringIO()
    args = parse(argv)
    code = args.handler(args, out)
    return code, out.getvalue()


def test_rules_test_a_query_newest_first_with_sentence_and_counts(config_path: Path) -> None:
    code, text = run(["rules", "test", "MI6 defect*", "--config", str(config_path)])
    assert code == 0
    lines = text.splitlines()
    assert lines[0].startswith("#4  ") and lines[0].endswith("guardian-world  MI6 and the "
                                                              "defectors")
    assert "      [MI6] said [defectors] matter." in lines
    assert any(line.startswith("#1  ") for line in lines)
    assert "#3" not in text  # older than 7 days
    assert "query: 2 of 3 articles since" in text
    assert "bbc-world       1" in text and "guardian-world  1" in text
    assert "\x1b[" not in text


def test_rules_test_by_rule_name_with_feed_limit_and_colour(config_path: Path) -> None:
    code, text = run(["rules", "test", "mi6", "--feed", "bbc-*", "--since", "30d",
                      "--limit", "1", "--config", str(config_path)], Tty())
    assert code == 0
    assert "rule 'mi6': 2 of 2 articles" in text and "(showing 1)" in text
    assert "A \x1b[1;33mdefector\x1b[0m from long ago." in text  # #3 comes first: newest number


def test_rules_test_explain_and_disabled_rule(config_path: Path) -> None:
    code, text = run(["rules", "test", "wagner", "--explain", "--config", str(config_path)])
    assert code == 0
    assert "rule 'wagner': 1 of 3 articles" in text
    assert "      + OR" in text
    assert "+ Prigozhin: body 'Prigozhin'" in text


def test_rules_test_bad_query_is_a_usage_error(config_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        run(["rules", "test", "MI6 AND (x", "--config", str(config_path)])
    assert "unbalanced parenthesis" in str(caught.value)
    assert "        ^" in str(caught.value)


def test_backfill_records_matches_once(config_path: Path) -> None:
    code, text = run(["rules", "backfill", "mi6", "--config", str(config_path)])
    assert code == 0
    assert "rule 'mi6': 2 articles since" in text and "2 new matches recorded" in text
    code, text = run(["rules", "backfill", "mi6", "--since", "30d", "--config",
                      str(config_path)])
    assert "3 articles" in text and "1 new matches recorded" in text
    with Store.open(load_config(config_path)) as store:
        stored = store.get_article(4)
        assert stored is not None
        [match] = stored.matches
        assert isinstance(match, RuleMatch) and match.rule == "mi6"
        assert {h.term for h in match.hits} == {"MI6", "defect*"}


def test_backfill_unknown_rule(config_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run(["rules", "backfill", "mi7", "--config", str(config_path)])
    assert code == 2
    assert "unknown rule 'mi7' (did you mean 'mi6'?)" in capsys.readouterr().err
