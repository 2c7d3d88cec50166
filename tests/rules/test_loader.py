"""rules.yaml: the Rule fields, the any/all/none sugar, and problems as file:line:col."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.rules.helpers import article
from watcher.errors import ConfigError
from watcher.rules import Rule, check_rules, load_rules


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str, **known: list[str]) -> list[str]:
    rules, found = check_rules(write(tmp_path, text), **known)  # type: ignore[arg-type]
    assert (rules is None) == bool(found)
    return [str(p).replace(str(tmp_path) + "/", "") for p in found]


def test_every_key_becomes_a_rule_field(tmp_path: Path) -> None:
    rules = load_rules(write(tmp_path, """\
rules:
  - name: mi6-defection
    query: 'MI6 AND (defect* OR "door is always open")'
    feeds: [bbc-*, guardian-world]
    alert: immediate
    digests: [morning]
    channels: [ops]
    enabled: false
    description: Defections to MI6
    tags: [spies, uk]
    min_hits: 2
  - name: wagner
    any: [Wagner, Prigozhin]
    none: [opera]
"""), digests=["morning"], channels=["ops"])
    assert rules.rules[0] == Rule(
        name="mi6-defection", query='MI6 AND (defect* OR "door is always open")',
        feeds=("bbc-*", "guardian-world"), alert="immediate", digests=("morning",),
        channels=("ops",), enabled=False, description="Defections to MI6",
        tags=("spies", "uk"), min_hits=2)
    wagner = rules.get("wagner")
    assert wagner == Rule("wagner", "(Wagner OR Prigozhin) AND (NOT (opera))")
    assert [m.rule for m in rules.match(article(body="Prigozhin and Wagner"))] == ["wagner"]
    assert rules.match(article(body="Wagner at the opera")) == ()


def test_sugar_lists_take_phrases_prefixes_and_queries(tmp_path: Path) -> None:
    rules = load_rules(write(tmp_path, """\
rules:
  - name: sugar
    query: MI6
    all: [door is always open, defect*, '"head of" OR chief']
"""))
    assert rules.rules[0].query == ('(MI6) AND ("door is always open" AND defect* AND '
                                    '("head of" OR chief))')


def test_empty_file_and_empty_list_are_no_rules(tmp_path: Path) -> None:
    assert len(load_rules(write(tmp_path, ""))) == 0
    assert len(load_rules(write(tmp_path, "rules: []\n"))) == 0


def test_query_syntax_errors_point_inside_the_file(tmp_path: Path) -> None:
    found = problems(tmp_path, """\
rules:
  - name: unbalanced
    query: 'MI6 AND (defect* OR "door is always open"'
  - name: field
    query: "Putin AND titel:Kremlin"
  - name: folded
    query: >
      Putin AND
      (Kremlin OR NEAR)
  - name: near
    query: |
      Putin NEAR
  - name: sugar
    any: [Wagner, de*]
""")
    assert found == [
        "rules.yaml:3:21: unbalanced parenthesis (this '(' is never closed)\n"
        "    MI6 AND (defect* OR \"door is always open\"\n"
        "            ^",
        "rules.yaml:5:23: unknown field 'titel:' (did you mean 'title:'?)\n"
        "    Putin AND titel:Kremlin\n"
        "              ^",
        "rules.yaml:9:16: OR needs terms on both sides\n"
        "    Putin AND (Kremlin OR NEAR)\n"
        "                       ^",
        "rules.yaml:12:13: NEAR needs terms on both sides\n"
        "    Putin NEAR\n"
        "          ^",
        "rules.yaml:14:19: a prefix needs at least 3 letters before '*' (e.g. defect*)\n"
        "    de*\n"
        "    ^",
    ]


def test_structure_problems_are_all_reported(tmp_path: Path) -> None:
    found = problems(tmp_path, """\
rules:
  - name: one
    query: a
    alrt: digest
  - name: one
    query: b
  - name: two
  - name: three
    query: c
    alert: immediat
    min_hits: 0
    enabled: "yes"
    tags: {a: b}
  - query: d
ruels: []
""")
    assert found == [
        "rules.yaml:4:5: unknown key 'alrt' (did you mean 'alert'?)",
        "rules.yaml:5:11: duplicate rule name 'one' (first defined on line 2)",
        "rules.yaml:7:5: a rule needs 'query:' (or 'any:'/'all:' lists)",
        "rules.yaml:10:12: alert: expected 'digest' or 'immediate', got 'immediat' "
        "(did you mean 'immediate'?)",
        "rules.yaml:11:15: min_hits: must be at least 1",
        "rules.yaml:12:14: enabled: expected true or false, got a string",
        "rules.yaml:13:11: tags: expected a list of strings, got a mapping",
        "rules.yaml:14:5: missing required key 'name'",
        "rules.yaml:15:1: unknown key 'ruels' (did you mean 'rules'?)",
    ]


def test_references_to_digests_and_channels_are_checked(tmp_path: Path) -> None:
    text = """\
rules:
  - name: a
    query: x
    digests: [mornin]
  - name: b
    query: y
    alert: immediate
    channels: [slak, ops]
  - name: c
    query: z
    channels: [ops]
"""
    assert problems(tmp_path, text, digests=["morning"], channels=["slack", "ops"]) == [
        "rules.yaml:4:15: unknown digest 'mornin' (did you mean 'morning'?)",
        "rules.yaml:8:16: unknown channel 'slak' (did you mean 'slack'?)",
        "rules.yaml:11:15: channels: only used by rules with alert: immediate (digests are "
        "sent to the digest's own channels)",
    ]
    # None: the caller has no config, names are not checked
    assert problems(tmp_path, text)[0].startswith("rules.yaml:11:15: channels: only used")
    assert problems(tmp_path, text, digests=[], channels=["ops"])[0] == (
        "rules.yaml:4:15: unknown digest 'mornin' (no digests are configured)")


def test_yaml_syntax_and_missing_file(tmp_path: Path) -> None:
    assert problems(tmp_path, "rules:\n  - name: [x\n")[0].startswith(
        "rules.yaml:3:1: YAML syntax error")
    with pytest.raises(ConfigError) as caught:
        load_rules(tmp_path / "nope.yaml")
    assert "cannot read file" in str(caught.value)
