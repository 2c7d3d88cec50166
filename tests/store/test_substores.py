"""The outbox and the site memory on SQLite and PostgreSQL: the statements the delivery
service and the pipeline rely on behave the same on both."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import psycopg

from tests.support.postgres import PostgresServer
from watcher.store import Store
from watcher.store.boilerplate import Observation
from watcher.store.outbox import NewRun
from watcher.types import Article, FeedNotice, FeedState, Hit, RuleMatch

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
LEASE = timedelta(minutes=1)


def new_run(key: str, channels: tuple[str, ...] = ("mail", "slack")) -> NewRun:
    return NewRun(key=key, kind="digest", name="morning", since=NOW - timedelta(days=1),
                  cutoff=NOW, created=NOW, item_count=1, payload={"items": [1]},
                  channels=channels)


def stored(store: Store, n: int, rules: tuple[str, ...]) -> int:
    url = f"https://news.example/{n}"
    done = store.store_article(
        Article(url=url, canonical_url=url, feed="bbc", site="news.example", title=f"T{n}",
                description="", paragraphs=("MI6 body",), fetched=NOW),
        [RuleMatch(rule, (Hit("body", 0, 3, "MI6"),)) for rule in rules],
        entry_row_id=None, write_file=False, now=NOW)
    assert done is not None
    return done.number


def test_a_run_is_fixed_once_and_tells_its_notices(store: Store) -> None:
    store.save_feed_states([FeedState(name="bbc", config_url="u", url="u",
                                      notice="moved", notice_sent=False)])
    assert store.outbox.pending_notices() == [FeedNotice("bbc", "moved")]
    run = store.outbox.create_run(new_run("digest:morning@1"),
                                  notices=[FeedNotice("bbc", "moved")])
    assert run is not None and run.payload == {"items": [1]} and run.created == NOW
    assert store.outbox.create_run(new_run("digest:morning@1")) is None  # the key exists
    assert store.outbox.find_run("digest:morning@1") == run
    assert store.outbox.pending_notices() == []
    assert store.outbox.last_cutoff("digest", "morning") == NOW
    assert sorted(d.channel for d in store.outbox.deliveries(run_id=run.id)) == [
        "mail", "slack"]


def test_a_delivery_is_claimed_once_and_reclaimed_after_the_lease(store: Store) -> None:
    store.outbox.create_run(new_run("digest:morning@2", ("mail",)))
    (due,) = store.outbox.due(NOW, LEASE)
    assert store.outbox.claim(due, NOW)
    assert not store.outbox.claim(due, NOW)  # someone else's now
    assert store.outbox.due(NOW + LEASE / 2, LEASE) == []
    (abandoned,) = store.outbox.due(NOW + 2 * LEASE, LEASE)
    assert abandoned.state == "sending" and abandoned.attempts == 1
    store.outbox.mark_retry(due.id, NOW, NOW + LEASE, "421 try later")
    assert store.outbox.due(NOW, LEASE) == []
    store.outbox.mark_failed(due.id, NOW, "550 no such user")
    assert store.outbox.requeue([due.id], NOW) == 1
    (again,) = store.outbox.deliveries(states=["pending"])
    assert again.attempts == 0 and again.last_error == "550 no such user"
    assert store.outbox.claim(again, NOW)
    store.outbox.mark_sent(again.id, NOW, "<id@example>")
    assert [d.sent_id for d in store.outbox.deliveries(states=["sent"])] == ["<id@example>"]


def test_candidates_and_held_alerts(store: Store) -> None:
    first = stored(store, 1, ("mi6", "spies"))
    second = stored(store, 2, ("mi6",))
    found = store.outbox.candidates(NOW - timedelta(hours=1), NOW, ["mi6", "spies"])
    assert [(c.number, c.rules) for c in found] == [(first, ("mi6", "spies")),
                                                     (second, ("mi6",))]
    assert found[0].hits == (("body", 0, 3, "MI6"),)
    assert store.outbox.hold_alert_articles({"mi6": [first, second]}, NOW) == 2
    assert store.outbox.hold_alert_articles({"mi6": [first]}, NOW) == 0
    run = store.outbox.create_run(
        NewRun(key="alert:mi6@1", kind="alert", name="mi6", since=NOW, cutoff=NOW,
               created=NOW, item_count=1, payload={}, channels=("mail",)),
        alert_listed=[first], alert_counted=[second])
    assert run is not None and store.outbox.held_alerts() == {}
    assert store.outbox.alerts_last_sent(["mi6", "spies"]) == {"mi6": NOW}
    assert store.outbox.alerts_last_sent([]) == {}
    unalerted = store.outbox.candidates(NOW - timedelta(hours=1), NOW, ["mi6"],
                                        exclude_alerted=True)
    assert [c.number for c in unalerted] == [second]


def test_held_alerts_of_many_rules_are_new_pairs_only_in_the_order_given(store: Store) -> None:
    first = stored(store, 1, ("mi6", "spies"))
    second = stored(store, 2, ("mi6", "spies"))
    held = {"spies": [second, first, second], "mi6": [second], "none": []}
    assert store.outbox.hold_alert_articles(held, NOW) == 3
    assert store.outbox.held_alerts() == {"spies": [first, second], "mi6": [second]}
    assert list(store.outbox.held_alerts()) == ["spies", "mi6"]
    assert store.outbox.hold_alert_articles(held, NOW) == 0
    assert store.outbox.hold_alert_articles({"mi6": [first, second]}, NOW) == 1
    assert store.outbox.held_alerts()["mi6"] == [second, first]
    assert store.outbox.hold_alert_articles({}, NOW) == 0


def _of_length(chars: int, _known: frozenset[str]) -> int:
    """An article of ``chars`` characters, whatever its boilerplate."""
    return chars


def test_site_memory_counts_articles_and_forgets_old_rows(store: Store) -> None:
    memory = store.boilerplate
    for n in range(3):
        known, _ = memory.observe_article(
            "news.example", f"a{n}", {"appeal", f"story{n}"}, NOW, min_articles=3,
            window=timedelta(days=30), length_without=lambda _known: 0)
    assert known == {"appeal"}
    assert memory.known("news.example", 3, NOW - timedelta(days=1)) == {"appeal"}
    for n in range(6):
        _, typical = memory.observe_article(
            "news.example", f"a{n}", set(), NOW, min_articles=3, window=timedelta(days=1),
            length_without=partial(_of_length, 1000 + n))
    assert typical == 1002  # the median of the five before the last
    assert memory.prune(NOW + timedelta(seconds=1)) == 6 + 6
    assert memory.known("news.example", 1, NOW - timedelta(days=1)) == frozenset()


def test_pruning_in_small_chunks_deletes_every_old_row_and_no_young_one(store: Store) -> None:
    memory = store.boilerplate
    window = timedelta(days=30)
    for day in range(10):  # articles a day apart, on two sites, seven paragraphs each
        for site in ("a.example", "b.example"):
            memory.observe_article(
                site, f"{site}-{day}", {f"p{n}" for n in range(7)},
                NOW + timedelta(days=day), min_articles=3, window=window,
                length_without=partial(_of_length, 500 + day))
    cut = NOW + timedelta(days=6)  # days 0-5 are out, 6-9 stay
    asked: list[bool] = []

    def stop_after_two_chunks() -> bool:  # a shutdown, asked before each chunk
        asked.append(True)
        return len(asked) > 2

    assert memory.prune(cut, chunk=4, stop_when=stop_after_two_chunks) == 8
    assert memory.prune(cut, chunk=4) == 6 * 2 * 7 + 6 * 2 - 8
    assert memory.prune(cut, chunk=4) == 0
    for site in ("a.example", "b.example"):
        # the four young articles still carry every paragraph, the old ones none
        assert memory.known(site, 4, NOW - window) == {f"p{n}" for n in range(7)}
        assert memory.known(site, 5, NOW - window) == frozenset()
        assert memory.typical_length(site, NOW - window, min_samples=4) == 507
        assert memory.typical_length(site, NOW - window, min_samples=5) is None


def test_an_articles_boilerplate_is_what_the_sites_counts_say(store: Store) -> None:
    """The per-article answer (one probe for the n-th sighting of each paragraph) agrees
    with counting the site's sightings whole, through the window's edge, the article that
    completes a count, and an article seen again."""
    memory, window = store.boilerplate, timedelta(days=10)
    rng = random.Random(7)
    shared = [f"appeal{n}" for n in range(6)]
    for n in range(40):
        seen_at = NOW - timedelta(days=20) + timedelta(hours=12 * n)
        prints = {f"own{n}", *rng.sample(shared, rng.randint(0, 4))}
        for key in (f"a{n}", f"a{n}") if n % 9 == 0 else (f"a{n}",):  # some seen twice
            for min_articles in (1, 3):
                known, _ = memory.observe_article(
                    "news.example", key, prints, seen_at, min_articles=min_articles,
                    window=window, length_without=lambda _known: 100)
                counted = memory.known("news.example", min_articles, seen_at - window)
                assert known == counted & prints, (n, min_articles)
    assert "appeal0" in memory.known("news.example", 3, NOW - window)
    assert memory.known("news.example", 40, NOW - window) == frozenset()


def test_articles_observed_in_one_transaction_get_the_answers_they_would_one_by_one(
        store: Store) -> None:
    """The pipeline records a batch of articles' sightings in one transaction: each sees
    what the ones before it recorded, an article seen twice included, so each answer is the
    one it would get in a transaction of its own."""
    memory, rng = store.boilerplate, random.Random(11)
    shared = [f"appeal{n}" for n in range(4)]
    plan = [(f"a{n % 12}", frozenset({f"own{n}", *rng.sample(shared, rng.randint(0, 3))}),
             NOW + timedelta(minutes=n), 900 + 10 * n) for n in range(16)]

    def observation(site: str, key: str, prints: frozenset[str], at: datetime,
                    chars: int) -> Observation:
        return Observation(site, key, prints, at, 3, timedelta(days=1),
                           lambda known: chars - 100 * len(known))

    one_by_one = [memory.observe_articles([observation("one.example", *step)])[0]
                  for step in plan]
    together = memory.observe_articles([observation("all.example", *step) for step in plan])
    assert together == one_by_one
    assert any(known for known, _ in together)
    assert any(typical is not None for _, typical in together)


def test_a_delivery_leased_by_another_member_is_passed_over_at_once(
        postgres_server: PostgresServer, migrated_template: str, tmp_path: Path) -> None:
    # A cluster member holding a delivery's row (FOR UPDATE, mid-claim) must not make the
    # others queue behind it: SKIP LOCKED passes over the row, and the claim says no.
    url = postgres_server.create_database("t_skip_locked", template=migrated_template)
    with Store.at(url, tmp_path / "articles") as store:
        store.outbox.create_run(new_run("digest:morning@3", ("mail",)))
        (due,) = store.outbox.due(NOW, LEASE)
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"),
                             options="-c lock_timeout=5000") as other:
            other.execute("SELECT id FROM outbox_deliveries WHERE id = %s FOR UPDATE",
                          (due.id,))
            assert not store.outbox.claim(due, NOW)  # without SKIP LOCKED: waits for the lock
        assert store.outbox.claim(due, NOW)  # the other member let go without claiming
