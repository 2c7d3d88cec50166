from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.digest.fixtures import CORPUS, NOW, candidate, fixed_digest, seed_candidates
from watcher.digest import (
    BuildSpec,
    FoldText,
    build_digest,
    digest_from_json,
    digest_to_json,
    fold_groups,
)
from watcher.digest.folding import FOLD_THRESHOLD, jaccard, shingles
from watcher.extract.boilerplate import fingerprints
from watcher.store import Store

SPEC = BuildSpec(name="d", timezone="UTC", since=datetime(2023, 7, 19, tzinfo=UTC),
                 until=datetime(2023, 7, 21, tzinfo=UTC), rule_order=("a", "b", "c"))


def test_items_grouped_under_first_rule_newest_first_listing_other_rules() -> None:
    digest = build_digest(SPEC, [
        candidate(1, "Old", "Alpha one is here.", rules=("b",), terms=("Alpha",), hour=1),
        candidate(2, "Both", "Alpha two is here.", rules=("a", "b"), terms=("Alpha",), hour=2),
        candidate(3, "New", "Alpha three is here.", rules=("b",), terms=("Alpha",), hour=3),
        candidate(4, "Elsewhere", "Alpha four.", rules=("zzz",), terms=("Alpha",), hour=4),
    ])
    assert [s.rule for s in digest.sections] == ["a", "b"]
    assert [i.number for i in digest.sections[0].items] == [2]
    assert digest.sections[0].items[0].rules == ("a", "b")
    assert [i.number for i in digest.sections[1].items] == [3, 1]
    assert digest.item_count == 3  # the article of an unselected rule is left out


def test_the_two_seed_versions_fold_into_one_item() -> None:
    spec = replace(SPEC, rule_order=("mi6-defection", "wagner"))
    digest = build_digest(spec, seed_candidates())
    assert digest.item_count == 1
    item = digest.sections[0].items[0]
    assert item.number == 0 and item.folded == (4,) and item.versions == 1
    assert item.rules == ("mi6-defection", "wagner")


def test_wire_copy_on_two_outlets_is_one_item_with_also() -> None:
    items = [i for s in fixed_digest().sections for i in s.items]
    wire = next(i for i in items if i.number == 8)
    assert wire.also == ("reuters.com",) and wire.folded == (9,)


def test_items_and_versions_name_their_outlet_else_show_its_host() -> None:
    wire = ("Wagner fighters have arrived in Belarus, the defence ministry in Minsk said. "
            "Columns of vehicles crossed the border overnight, according to witnesses.")
    story = [candidate(1, "Convoy reaches Belarus", wire, site="apnews.com",
                       site_name="AP News", hour=3),
             # one site naming itself two ways is still one outlet: an update, not "also"
             candidate(2, "Convoy reaches Belarus (update)", wire, site="apnews.com",
                       site_name="The Associated Press", hour=2),
             candidate(3, "Convoy in Belarus", wire, site="reuters.com", hour=1),
             candidate(4, "Convoy arrives", wire, site="floridatoday.com",
                       site_name="Florida Today", hour=0)]
    (item,) = [i for s in build_digest(SPEC, [replace(c, rules=("a",)) for c in story]).sections
               for i in s.items]
    assert item.outlet == "AP News" and item.versions == 1
    assert [v.outlet for v in item.others] == ["The Associated Press", "reuters.com",
                                               "Florida Today"]
    assert item.also == ("reuters.com", "Florida Today")


def test_hit_sentence_highlights_terms_and_partial_is_flagged() -> None:
    items = {i.number: i for s in fixed_digest().sections for i in s.items}
    hostile = items[7]
    assert hostile.partial
    marked = [hostile.snippet.text[a:b] for a, b in hostile.snippet.spans]
    assert marked == ["MI6", "defectors"]
    assert hostile.snippet.text.startswith("The MI6 chief said")
    assert "\r" not in hostile.title and "\n" not in hostile.title


def test_ground_truth_articles_do_not_fold_except_same_event_reports() -> None:
    truth = json.loads(CORPUS.read_text(encoding="utf-8"))
    texts = [FoldText(i, v["url"].split("/")[2], v["articleBody"])
             for i, v in enumerate(truth.values())]
    folded = [g for g in fold_groups(texts) if len(g) > 1]
    urls = [[list(truth.values())[k]["url"] for k in g] for g in folded]
    # Bodies only, no titles or dates: the one fold is The Hill and NBC News on the same
    # court hearing, which share text. 79 articles, 3,081 pairs, every other pair stays
    # apart. With titles and dates, test_folding_quality.py scores the labelled groups.
    assert len(folded) == 1, urls
    assert all("omar" in u for u in urls[0])


def learned_boilerplate(site: str, texts: list[str]) -> frozenset[str]:
    """What ingestion learns from these articles of ``site`` (the real store, in memory)."""
    with Store.at("sqlite://", Path("unused-articles-folder")) as store:
        for number, text in enumerate(texts):
            store.boilerplate.record(site, f"article-{number}", fingerprints(text.split("\n")),
                                     NOW)
        return store.boilerplate.known(site, 3, NOW - timedelta(days=30))


def test_a_flood_of_near_copies_folds_into_one_story_led_by_the_first() -> None:
    # One release run by 600 outlets, each adding its own line, among two other stories.
    truth = list(json.loads(CORPUS.read_text(encoding="utf-8")).values())
    release, other, third = (truth[i]["articleBody"] for i in (0, 5, 10))
    texts = [FoldText(0, "a.example", other)]
    texts += [FoldText(n, f"outlet{n}.example", f"{release}\nFiled by desk {n}.")
              for n in range(1, 601)]
    texts.append(FoldText(601, "b.example", third))
    groups = fold_groups(texts)
    assert [len(g) for g in groups] == [1, 600, 1]
    assert groups[1][0] == 1  # the first (newest) copy leads


def test_shared_site_boilerplate_does_not_fold_distinct_articles() -> None:
    appeal = "\n".join(seed_candidates()[1].body.split("\n")[0:4])
    truth = list(json.loads(CORPUS.read_text(encoding="utf-8")).values())
    texts = [FoldText(i, "independent.co.uk", appeal + "\n" + truth[i]["articleBody"])
             for i in (0, 5, 10)]
    # The appeal alone is one long shared passage: no fold, even before it is learned...
    assert jaccard(shingles(texts[0].text), shingles(texts[1].text)) > 2 * FOLD_THRESHOLD
    assert len(fold_groups(texts[:2])) == 2
    # ...and once ingestion saw it in a third article of the site, it is not even compared.
    known = {"independent.co.uk": learned_boilerplate("independent.co.uk",
                                                      [t.text for t in texts])}
    assert len(known["independent.co.uk"]) == 4
    assert shingles(texts[0].text, known["independent.co.uk"]).isdisjoint(
        shingles(appeal))
    assert len(fold_groups(texts, boilerplate=known)) == 3


def test_the_seeds_still_fold_once_their_appeal_is_known_boilerplate() -> None:
    seeds = seed_candidates()
    appeal = "\n".join(seeds[1].body.split("\n")[0:4])
    truth = json.loads(CORPUS.read_text(encoding="utf-8"))
    other = next(iter(truth.values()))["articleBody"]
    known = learned_boilerplate("independent.co.uk",
                                [seeds[0].body, seeds[1].body, appeal + "\n" + other])
    assert fingerprints(appeal.split("\n")) <= known
    texts = {c.number: f"{c.title}\n{c.description}\n{c.body}" for c in seeds}
    a, b = (shingles(texts[n], known) for n in (0, 4))
    assert 0.06 <= jaccard(a, b) < 0.1  # docs/digests.md: 0.078 with the appeal removed
    spec = replace(SPEC, rule_order=("mi6-defection", "wagner"))
    digest = build_digest(spec, seeds, boilerplate={"independent.co.uk": known})
    assert digest.item_count == 1 and digest.sections[0].items[0].folded == (4,)


def test_short_texts_never_fold_on_too_little_evidence() -> None:
    texts = [FoldText(1, "a", "Breaking news"), FoldText(2, "b", "Breaking news")]
    assert len(fold_groups(texts)) == 2
    # Two distinct feed summaries sharing a stock phrase: Jaccard passes, evidence does not.
    texts = [FoldText(1, "a", "Officials spoke on Monday. The MI6 chief urged Russians to "
                              "defect. Nothing else."),
             FoldText(2, "b", "Officials met on Monday. The MI6 chief said defectors are "
                              "welcome. Nothing else happened.")]
    assert len(fold_groups(texts)) == 2
    summary = ("Wagner fighters have arrived in Belarus, the defence ministry in Minsk said, "
               "and more columns are expected to cross the border by the weekend.")
    assert len(fold_groups([FoldText(1, "a", summary), FoldText(2, "b", summary)])) == 1
    assert shingles("") == frozenset()


def test_json_round_trip_is_exact() -> None:
    digest = fixed_digest()
    assert digest_from_json(json.loads(json.dumps(digest_to_json(digest)))) == digest


def test_runs_stored_before_snippets_had_a_field_still_load() -> None:
    data = digest_to_json(fixed_digest())
    for section in data["sections"]:
        for item in section["items"]:
            del item["snippet"]["field"]
    loaded = digest_from_json(json.loads(json.dumps(data)))
    item = loaded.sections[0].items[0]
    assert item.snippet.field == "" and item.snippet.spans
    assert item.snippet.text == fixed_digest().sections[0].items[0].snippet.text
