"""Each piece of evidence folding weighs (watcher/digest/evidence.py), and each of the
folding rules it feeds (watcher/digest/folding.py), on small hand-made texts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from watcher.digest import folding
from watcher.digest.evidence import (
    PASSAGE_SHINGLES,
    RARE_CEILING,
    Overlap,
    headline_in_lead,
    hours_apart,
    overlap,
    passages,
    rare_weights,
    rarity,
    shingle_list,
    stems,
    weighted_jaccard,
    words,
)
from watcher.digest.folding import FoldText, _Prepared, event_pairs, fold_groups, same_story

QUOTE = ("We have put record investment into this railway and we will not write a blank "
         "cheque, and every pound of public money has to deliver better services")


def prepared(text: str, title: str = "", hour: int | None = 0) -> _Prepared:
    when = None if hour is None else datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=hour)
    return _Prepared(words(title + "\n" + text), when, title)


def test_shared_text_overlap_reports_the_share_of_the_smaller_article() -> None:
    small = frozenset(shingle_list(words("one two three four five six")))
    large = frozenset(shingle_list(words("one two three four five six seven eight nine ten")))
    found = overlap(small, large)
    assert found.shared == 4 and found.coverage == 1.0
    assert found.jaccard == 4 / 8
    assert overlap(frozenset(), frozenset()) == Overlap(0, 0.0, 0.0)
    assert overlap(frozenset(), small).coverage == 0.0


def test_a_long_shared_run_is_one_passage_and_its_words_are_set_aside() -> None:
    a = words(f"The strike starts Monday. {QUOTE}. Drivers voted for it.")
    b = words(f"The budget passed tonight. {QUOTE}. Rebels lost the vote.")
    found = passages(a, shingle_list(a), frozenset(shingle_list(b)))
    assert found.longest >= PASSAGE_SHINGLES and found.in_passages == found.longest
    assert "cheque" not in found.outside and "strike" in found.outside
    # short runs ("the vote") are chance, not passages: their words stay
    c = words("Drivers voted for it and the vote was close.")
    scattered = passages(c, shingle_list(c), frozenset(shingle_list(a)))
    assert scattered.in_passages == 0 and scattered.outside == tuple(c)


def test_rare_words_weigh_more_than_common_ones_and_names_most() -> None:
    assert rarity("the") == 0.0 and rarity("said") == 0.0
    assert 0 < rarity("prosecutor") < rarity("assange")
    assert rarity("maasstad") == RARE_CEILING
    assert rarity("a") == 0.0
    weights = rare_weights(words("The prosecutor said Assange would not be charged"))
    assert set(weights) == {"prosecutor", "assange", "charged"}


def test_weighted_jaccard_counts_shared_weight_over_all_weight() -> None:
    assert weighted_jaccard({"a": 2.0, "b": 1.0}, {"a": 2.0, "c": 1.0}) == 2.0 / 4.0
    assert weighted_jaccard({}, {}) == 0.0


def test_headline_words_found_in_the_other_lead_count_by_stem() -> None:
    title = stems(tuple(words("Sweden drops rape investigation into Julian Assange")))
    lead = stems(tuple(words("Swedish prosecutors end Assange inquiry. The investigation "
                             "into an allegation that Julian Assange raped a woman")))
    assert "invest" in title and "invest" in lead  # investigation, investigating: one stem
    assert headline_in_lead(title, lead) == 3  # invest, julian, assang
    assert headline_in_lead(stems(()), lead) == 0


def test_hours_apart_is_unknown_without_both_times() -> None:
    first = datetime(2024, 1, 1, tzinfo=UTC)
    assert hours_apart(first, first + timedelta(hours=30)) == 30.0
    assert hours_apart(first + timedelta(hours=30), first) == 30.0
    assert hours_apart(first, None) is None


STORY = ("Rescuers on Lake Volta searched on Sunday for passengers missing after a boat from "
         "Kete Krachi overturned in a storm near Dambai, killing at least 14 people. "
         "Kwaku Asante-Mensah of the disaster agency NADMO said 31 survivors had been pulled "
         "from the water by fishermen and marine police. The boat carried maize and traders "
         "heading to the weekly market, witnesses said, and the regional minister promised an "
         "investigation into how it was allowed to leave so heavily loaded.")


def test_a_copy_folds_whatever_its_headline_or_date() -> None:
    a = prepared(STORY, "At least 14 dead as ferry capsizes on Lake Volta")
    b = prepared(STORY + " A local line.", "Boat tragedy", hour=24 * 10)
    assert same_story(a, b)


RAIL = ("Train drivers and guards will walk out for three days from September 18 after "
        "rejecting a pay offer of 3.5 per cent, the union said on Tuesday. Its general "
        "secretary said members voted by 87 per cent to strike on a turnout of 71 per cent. "
        "Operators said they would run a reduced timetable on intercity routes and advised "
        "passengers to travel only if necessary; commuter lines will be hardest hit.")
BUDGET = ("The government won a vote on its spending plans by 23 votes on Wednesday night "
          "after 19 of its own MPs rebelled over letting regulated fares rise by inflation "
          "plus one per cent. The rebels said passengers in northern towns pay more for fewer "
          "trains. The chancellor's wider package, including a freeze on fuel duty and new "
          "money for hospitals, passed without amendment.")


def test_a_shared_quote_alone_is_not_shared_text() -> None:
    a = prepared(f"{RAIL} The minister said: {QUOTE}.", "Rail workers announce strike")
    b = prepared(f"{BUDGET} The minister said: {QUOTE}.", "Government survives budget vote",
                 hour=30)
    assert overlap(a.shingles, b.shingles).jaccard >= folding.FOLD_THRESHOLD
    assert not same_story(a, b)
    # the same two with the quote in the middle of more shared reporting do fold
    shared = f"{RAIL} The minister said: {QUOTE}. {BUDGET}"
    assert same_story(prepared(shared + " One more line.", "Strike and vote"),
                      prepared("A first line. " + shared, "Vote and strike"))


def test_one_event_in_different_words_folds_on_headline_and_rare_words() -> None:
    a = prepared(STORY, "Ghana: boat overturns on Lake Volta near Dambai")
    other = ("At least 14 people died when an overloaded boat capsized on Lake Volta near "
             "Dambai on Saturday, NADMO said. Kwaku Asante-Mensah told reporters the vessel "
             "from Kete Krachi was hit by strong winds; 31 people were rescued by divers and "
             "fishermen, and more than a dozen were missing as night fell on the reservoir, "
             "where submerged tree stumps from the Akosombo dam damage hulls.")
    b = prepared(other, "Fourteen dead as ferry sinks on Lake Volta", hour=5)
    assert overlap(a.shingles, b.shingles).jaccard < folding.FOLD_THRESHOLD
    assert same_story(a, b)
    # the same two reports a week apart are two events (an anniversary, a second accident)
    assert not same_story(a, prepared(other, "Fourteen dead as ferry sinks on Lake Volta",
                                      hour=24 * 7))


def test_without_a_headline_word_in_the_other_lead_rare_words_must_weigh_most() -> None:
    rally = ("Presidential candidate Adaeze Okonkwo promised free bus travel for students and "
             "apprentices at a rally in Tafawa Balewa Square in Lagos on Wednesday, and pledged "
             "twenty technical colleges paid for by ending fuel import licences, which she "
             "called a tax on the poor collected by the rich. Thousands of supporters waved "
             "green flags. Her rival, President Bello Danjuma, was campaigning in Kano.")
    poll = ("President Bello Danjuma leads by six points in a survey of 2,400 adults by the "
            "Abuja Institute for Public Opinion, published on Thursday, with 44 per cent "
            "against 38 per cent for his challenger Adaeze Okonkwo and 12 per cent undecided. "
            "The margin of error is 2.5 points. Pollsters said turnout was hard to predict.")
    a = prepared(rally, "Free bus travel for students, candidate promises")
    b = prepared(poll, "President opens six-point lead in national poll", hour=13)
    assert headline_in_lead(a.title_stems, b.lead_stems) == 0
    assert not same_story(a, b)


def test_short_texts_never_fold_on_names_alone() -> None:
    a = prepared("Sweden drops the Assange investigation.", "Sweden drops Assange case")
    b = prepared("Assange investigation dropped by Sweden.", "Assange case dropped")
    assert not same_story(a, b)


def test_event_pairs_come_from_headline_words_in_leads_and_skip_crowded_words() -> None:
    texts = {1: prepared(STORY, "Boat overturns on Lake Volta near Dambai"),
             2: prepared("Volta boat: Dambai traders mourn. " + STORY[:80], "Traders mourn"),
             3: prepared("Unrelated text about a cycle lane on Mill Road.", "Cycle lane")}
    assert list(event_pairs(texts)) == [(1, 2)]
    crowd = {n: prepared(STORY, "Lake Volta Dambai") for n in range(folding.MAX_POSTINGS + 1)}
    assert list(event_pairs(crowd)) == []


def test_fold_groups_passes_titles_and_times_through() -> None:
    other = ("At least 14 people died when an overloaded boat capsized on Lake Volta near "
             "Dambai on Saturday, NADMO said. Kwaku Asante-Mensah told reporters the vessel "
             "from Kete Krachi was hit by strong winds; 31 people were rescued by divers and "
             "fishermen, and more than a dozen were missing as night fell.")
    first = datetime(2024, 3, 9, tzinfo=UTC)
    texts = [FoldText(1, "a.example", STORY, "Boat overturns on Lake Volta near Dambai", first),
             FoldText(2, "b.example", other, "Fourteen dead as boat sinks on Lake Volta",
                      first - timedelta(hours=3))]
    assert fold_groups(texts) == [[1, 2]]
    late = [texts[0], FoldText(2, "b.example", other, texts[1].title,
                               first - timedelta(days=5))]
    assert fold_groups(late) == [[1], [2]]
