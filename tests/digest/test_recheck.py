"""Matches resting only on boilerplate learned after they were recorded (issue 15 item 4):
the digest checks each candidate's hits again, rule by rule, against the boilerplate known
when it is built, takes off the rules that rest on it, leaves out articles with no rule
left, and says how many matches went."""

from __future__ import annotations

import json
from dataclasses import replace

from tests.digest.fixtures import candidate
from tests.digest.test_build import SPEC
from watcher.digest import build_digest, digest_from_json, digest_to_json, render_all
from watcher.digest.recheck import (
    body_spans,
    drop_boilerplate_matches,
    dropped_note,
    recheck,
    rests_on_boilerplate,
)
from watcher.extract.boilerplate import fingerprints

APPEAL = ("Your support helps us to tell the story. Donate to keep our independent "
          "journalism free for everyone.")
STORY = "Wagner fighters crossed into Belarus overnight, the ministry said."
BODY = f"{STORY}\n{APPEAL}"
KNOWN = fingerprints([APPEAL])


def test_hits_only_in_a_known_boilerplate_line_rest_on_it() -> None:
    only_appeal = candidate(1, "Belarus border", BODY, terms=("Donate",))
    assert rests_on_boilerplate(only_appeal.hits, body_spans(BODY), KNOWN)
    assert not rests_on_boilerplate(only_appeal.hits, body_spans(BODY), frozenset())
    assert recheck(only_appeal, KNOWN) == (None, 1)
    assert recheck(only_appeal, frozenset()) == (only_appeal, 0)  # not learned (yet): kept


def test_a_hit_outside_the_boilerplate_keeps_the_match() -> None:
    both = candidate(1, "Belarus border", BODY, terms=("Donate", "Wagner"))
    in_title = candidate(2, "Donate now", BODY, terms=("Donate",))
    assert recheck(both, KNOWN) == (both, 0)
    assert recheck(in_title, KNOWN) == (in_title, 0)  # the title hit is the article's own


def test_stale_offsets_never_drop_a_match() -> None:
    stale = candidate(1, "Belarus border", BODY, terms=("Donate",))
    moved = replace(stale, body=STORY)
    assert recheck(moved, KNOWN) == (moved, 0)


def test_only_the_rule_resting_on_boilerplate_is_taken_off() -> None:
    c = candidate(1, "Belarus border", BODY, rules=("a", "b"), terms=("Donate", "Wagner"),
                  rule_terms={"a": ("Donate",), "b": ("Wagner",)})
    checked, gone = recheck(c, KNOWN)
    assert gone == 1 and checked is not None
    assert checked.rules == ("b",) and [r for r, _ in checked.rule_hits] == ["b"]
    assert [term for *_, term in checked.hits] == ["Wagner"]


def test_the_digest_leaves_them_out_and_says_how_many() -> None:
    candidates = [candidate(1, "Belarus border", BODY, terms=("Donate",), rules=("a",),
                            site="independent.co.uk"),
                  candidate(2, "Prague speech", f"{APPEAL}\nThe MI6 chief spoke.",
                            terms=("MI6",), rules=("a",), site="independent.co.uk", hour=4)]
    kept, dropped = drop_boilerplate_matches(candidates, {"independent.co.uk": KNOWN})
    assert [c.number for c in kept] == [2] and dropped == 1
    digest = build_digest(SPEC, candidates, boilerplate={"independent.co.uk": KNOWN})
    assert digest.item_count == 1 and digest.dropped == 1
    assert digest_from_json(json.loads(json.dumps(digest_to_json(digest)))) == digest
    rendered = render_all(digest)
    note = dropped_note(1)
    assert note.startswith("1 match left out")
    assert note in rendered.text and note in rendered.html
    assert any(note in json.dumps(message) for message in rendered.slack)
    # without the boilerplate (alerts: judged when stored) nothing is left out
    assert build_digest(SPEC, candidates).dropped == 0


def test_runs_stored_before_the_recheck_load_with_nothing_dropped() -> None:
    data = digest_to_json(build_digest(SPEC, []))
    del data["dropped"]
    assert digest_from_json(data).dropped == 0
    assert dropped_note(3).startswith("3 matches left out")
