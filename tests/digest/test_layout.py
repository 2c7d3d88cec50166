"""Issue 15 items 1, 3, 5: every version of a folded story reachable in every channel, the
section rule's own sentence, mail that behaves in real mailboxes. Slack payloads are checked
with slack_sdk's Block Kit models; email with Python's strict parser."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

from slack_sdk.models.blocks import Block

from tests.digest.fixtures import NOW, candidate, fixed_digest
from watcher.digest import BuildSpec, build_digest, render_all
from watcher.digest.present import MAX_VERSIONS, subject
from watcher.notify.message import build_email, outgoing

WIRE = ("Wagner fighters have arrived in Belarus, the defence ministry in Minsk said. "
        "Columns of vehicles crossed the border overnight, according to witnesses.\n"
        "Prigozhin was not seen with the convoy. Officials declined to say how many "
        "fighters would stay or where they would be based in the coming weeks.")
OUTLETS = ["apnews.com", "reuters.com", "bbc.co.uk", "dw.com", "france24.com", "npr.org",
           "cbc.ca", "abc.net.au"]


def _spec(*rules: str) -> BuildSpec:
    return BuildSpec(name="morning", timezone="UTC", since=NOW - timedelta(days=1), until=NOW,
                     rule_order=rules)


def test_every_version_is_named_and_linked_newest_first_with_a_cap() -> None:
    story = [candidate(n, f"Wagner convoy reaches Belarus ({site})", WIRE, site=site,
                       rules=("wagner",), terms=("Wagner",), hour=5 - n % 6)
             for n, site in enumerate(OUTLETS)]
    digest = build_digest(_spec("wagner"), story)
    (item,) = digest.sections[0].items
    assert len(item.others) == len(OUTLETS) - 1
    times = [item.published, *(v.published for v in item.others)]
    assert times == sorted(times, reverse=True)
    rendered = render_all(digest)
    shown, hidden = item.others[:MAX_VERSIONS], item.others[MAX_VERSIONS:]
    slack = json.dumps(rendered.slack, ensure_ascii=False)
    for version in shown:
        assert version.title in rendered.text and version.url in rendered.text
        assert f'<a href="{version.url}"' in rendered.html and version.title in rendered.html
        assert f"<{version.url}|" in slack and version.outlet in slack
    for version in hidden:
        assert version.url not in rendered.text + rendered.html + slack
    more = f"and {len(hidden)} more"
    assert more in rendered.text and more in rendered.html and more in slack
    # Newest first in the text too.
    at = [rendered.text.index(v.url) for v in shown]
    assert at == sorted(at)


def test_an_item_shows_its_section_rules_own_sentence_then_the_other_rules() -> None:
    body = ("The talks ended peacefully on Monday after a long night.\n"
            "Three deaths were reported in the north, officials said.")
    both = candidate(1, "Night of talks", body, rules=("deaths", "peace"),
                     terms=("peacefully", "deaths"),
                     rule_terms={"deaths": ("deaths",), "peace": ("peacefully",)})
    digest = build_digest(_spec("deaths", "peace"), [both])
    (section,) = digest.sections
    (item,) = section.items
    assert section.rule == "deaths"
    assert [item.snippet.text[a:b] for a, b in item.snippet.spans] == ["deaths"]
    assert item.other_rules == ("peace",)
    rendered = render_all(digest)
    assert "also matched: peace" in rendered.text and "also matched: peace" in rendered.html
    assert "*deaths*" in rendered.text and "*peacefully*" not in rendered.text


def test_subject_counts_the_rules_that_matched_not_the_sections() -> None:
    both = candidate(1, "MI6 and Wagner", "MI6 spoke about Wagner today.",
                     rules=("mi6", "wagner"), terms=("MI6", "Wagner"))
    digest = build_digest(_spec("mi6", "wagner"), [both])
    assert len(digest.sections) == 1
    assert subject(digest) == "[watcher] morning: 1 article, 2 rules"


def test_mail_headers_keep_auto_replies_away_and_name_the_list() -> None:
    message = outgoing("digest:morning@2023-07-20T06:00:00+00:00", fixed_digest(),
                       datetime(2023, 7, 20, 6, 0, 5, tzinfo=UTC))
    raw = build_email(message, "Watcher <watcher@example.org>", ("a@example.org",)).as_bytes()
    mail = message_from_bytes(raw, policy=policy.strict)
    assert not mail.defects
    assert mail["List-Id"] == '"watcher digest morning" <morning.digest.watcher.example.org>'
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["X-Auto-Response-Suppress"] == "All"
    alert = outgoing("alert:x", build_digest(BuildSpec(
        name="Spy ring!", timezone="UTC", since=NOW, until=NOW, rule_order=("r",),
        kind="alert"), []), NOW)
    header = build_email(alert, "w@example.org", ("a@example.org",))["List-Id"]
    assert header.endswith("<spy-ring.alert.watcher.example.org>")


def _luminance(colour: str) -> float:
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_every_text_colour_meets_wcag_aa_on_every_background() -> None:
    html = render_all(fixed_digest()).html
    colours = set(re.findall(r"(?<![-\w])color: (#[0-9a-f]{6})", html))
    backgrounds = set(re.findall(r"background: (#[0-9a-f]{6})", html)) | {"#ffffff"}
    assert "#5e5e59" in colours  # the footer's
    for colour in colours:
        for background in backgrounds:
            assert contrast(colour, background) >= 4.5, (colour, background)
    assert contrast("#9a9a94", "#ffffff") < 4.5  # the old footer grey failed


def test_slack_payloads_are_valid_block_kit() -> None:
    for payload in render_all(fixed_digest()).slack:
        for block in payload["blocks"]:
            parsed = Block.parse(block)
            assert parsed is not None
            parsed.validate_json()


def test_the_outbox_keeps_each_rules_hits_apart(tmp_path: Path) -> None:
    from tests.notify.helpers import T0, add_article
    from watcher.store import Store
    from watcher.store.outbox import Outbox

    with Store.at(f"sqlite:///{tmp_path / 'index.sqlite3'}", tmp_path / "articles") as store:
        add_article(store, 1, "MI6 and Wagner", "The MI6 chief spoke. Wagner left.", when=T0)
        (found,) = Outbox(store.engine).candidates(T0 - timedelta(hours=1), T0,
                                                   ("mi6", "wagner"))
    assert {rule: {h[3] for h in hits} for rule, hits in found.rule_hits} == {
        "mi6": {"MI6"}, "wagner": {"Wagner"}}
    assert found.hits_of("wagner") == tuple(h for h in found.hits if h[3] == "Wagner")
