"""``watcher digest preview|send`` and ``watcher outbox`` on a real config and index."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.notify.helpers import add_article, file_channel_setup
from watcher.cli import digest_cmd


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS as in watcher.cli: a subcommand's own default must not hide a --config given
    # before it (and a None would fall back to the shipped config/watcher.yaml).
    common.add_argument("--config", dest="config", default=argparse.SUPPRESS)
    top = argparse.ArgumentParser(parents=[common])
    digest_cmd.register(top.add_subparsers(dest="command", required=True), common)
    return top


def run(*argv: str) -> int:
    args = parser().parse_args(argv)
    assert args.config, "tests always name their config"
    code: int = args.handler(args)
    return code


def test_preview_send_and_outbox(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, opened = file_channel_setup(tmp_path)
    with opened as store:
        add_article(store, 1, "MI6 chief speaks", "The MI6 chief spoke today at length.",
                    when=datetime.now(UTC) - timedelta(hours=1))
    assert run("digest", "preview", "--config", config, "--html", str(tmp_path / "p.html")) == 0
    out = capsys.readouterr().out
    assert "MI6 chief speaks" in out, (out, list((tmp_path / "state").iterdir()))
    assert "MI6 chief speaks" in (tmp_path / "p.html").read_text()
    assert not (tmp_path / "state" / "digests").exists()  # preview sends nothing
    assert run("digest", "send", "morning", "--config", config) == 0
    assert "archive: sent" in capsys.readouterr().out
    assert run("digest", "send", "morning", "--config", config) == 0
    assert "nothing new" in capsys.readouterr().out
    assert len(list((tmp_path / "state" / "digests").iterdir())) == 3
    assert run("outbox", "--config", config) == 0
    assert "archive" in capsys.readouterr().out
