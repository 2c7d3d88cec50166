"""A site's first pages match a rule on a word only its appeal carries; once ingestion has
learned the appeal, the next digest leaves those matches out and says so (issue 15 item 4).
Real SQLite index, real boilerplate store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx

from tests.notify.helpers import T0, Rule, RuleSet, add_article, config, service
from watcher.digest import render_text
from watcher.digest.recheck import dropped_note
from watcher.extract.boilerplate import fingerprints
from watcher.store import Store
from watcher.store.boilerplate import BoilerplateStore

APPEAL = ("Your support helps us to tell the story. Donate today and keep our journalism "
          "free for everyone, wherever they are.")
RULES = RuleSet((Rule("donations", "Donate"), Rule("mi6", "MI6")))


def test_matches_on_boilerplate_learned_since_are_left_out_of_the_next_digest(
        tmp_path: Path, store: Store, client: httpx.AsyncClient) -> None:
    stories = ["The MI6 chief spoke in Prague about Russian officials and the choices they "
               "face. He said the door was always open to those who wanted to help end the "
               "war, and that their secrets would be safe with the service.",
               "Wagner fighters crossed into Belarus overnight, the defence ministry in Minsk "
               "said. Columns of vehicles were seen near the border, and officials declined "
               "to say how many fighters would stay or where they would be based."]
    for n, story in enumerate(stories, 1):
        add_article(store, n, f"Story {n}", f"{story}\n{APPEAL}", when=T0 - timedelta(hours=n),
                    site="independent.co.uk", rules=RULES)
    svc = service(config(tmp_path, []), store, client, RULES)
    before = svc.build("morning", T0)
    assert before.item_count == 2 and before.dropped == 0  # nobody knows the appeal yet
    learned = BoilerplateStore(store.engine)
    for n, story in enumerate([*stories, "A third story."], 1):
        learned.record("independent.co.uk", f"page-{n}", fingerprints([story, APPEAL]), T0)
    after = svc.build("morning", T0)
    # Both "donations" matches rested on the appeal alone: both go. The Wagner story had no
    # other match and is left out; the MI6 story stays, listed under its own rule only.
    assert after.item_count == 1 and after.dropped == 2
    (item,) = [i for s in after.sections for i in s.items]
    assert item.title == "Story 1" and item.rules == ("mi6",)
    assert dropped_note(2) in render_text(after)
