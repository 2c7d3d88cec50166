"""The README stays true: every command the CLI has is documented there, with its options."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from watcher.cli import build_parser

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def commands() -> list[tuple[str, argparse.ArgumentParser]]:
    found: list[tuple[str, argparse.ArgumentParser]] = []

    def walk(prefix: str, parser: argparse.ArgumentParser) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            found.append((prefix, parser))
        for action in subs:
            for name, child in action.choices.items():
                walk(f"{prefix} {name}".strip(), child)

    walk("", build_parser())
    return found


@pytest.mark.parametrize(("command", "parser"), commands(), ids=lambda v: str(v))
def test_every_command_and_option_is_in_the_readme(command: str,
                                                   parser: argparse.ArgumentParser) -> None:
    assert f"watcher {command}" in README, f"`watcher {command}` is not in the README"
    for action in parser._actions:
        for option in action.option_strings:
            if option.startswith("--") and option not in ("--help", "--config"):
                assert re.search(rf"watcher {command}\b[^\n]*{option}\b", README), (
                    f"`watcher {command} {option}` is not in the README")


def test_readme_starts_with_the_two_commands() -> None:
    block = README.split("```")[1]
    assert "pip install -e ." in block and "watcher run" in block
    assert "pip install -e '.[test]'" in block and "pytest" in block
