"""Feed lifecycle decisions: pure, table-driven."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from watcher.config import FeedConfig, PollConfig
from watcher.lifecycle import (
    FeedState,
    PollOutcome,
    advance,
    backoff_delay,
    initial_state,
    polling_interval,
    reconcile_with_config,
    settle,
)

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
FEED = FeedConfig(name="f", url="https://example.org/feed", interval=timedelta(minutes=15))
POLL = PollConfig(jitter=0.0, failing_after=3, max_backoff=timedelta(hours=6))
OK = PollOutcome(kind="ok", etag='"v2"', last_modified="Mon, 23 Nov 2026 06:00:00 GMT")
ERROR = PollOutcome(kind="error", error="connection refused")


def run(state: FeedState, *outcomes: PollOutcome) -> FeedState:
    for outcome in outcomes:
        state = advance(state, outcome, FEED, POLL, NOW, 0.0)
    return state


def test_success_schedules_the_next_poll_on_the_interval() -> None:
    state = run(initial_state(FEED), OK)
    assert state.status == "ok"
    assert state.next_poll == NOW + timedelta(minutes=15)
    assert (state.etag, state.polls) == ('"v2"', 1)


def test_not_modified_keeps_the_validators() -> None:
    state = run(initial_state(FEED), OK, PollOutcome(kind="not_modified"))
    assert state.etag == '"v2"'
    assert state.not_modified == 1


def test_jitter_only_lengthens() -> None:
    state = advance(initial_state(FEED), OK, FEED, replace(POLL, jitter=0.2), NOW, 0.5)
    assert state.next_poll == NOW + timedelta(minutes=15) * 1.1


@pytest.mark.parametrize(("failures", "retry_after", "expected"), [
    (1, None, timedelta(minutes=15)),
    (2, None, timedelta(minutes=30)),
    (3, None, timedelta(minutes=60)),
    (10, None, timedelta(hours=6)),  # capped
    (1, 3600.0, timedelta(hours=1)),  # Retry-After wins when longer
    (1, 10 * 86400.0, timedelta(hours=6)),  # but is capped too
])
def test_backoff(failures: int, retry_after: float | None, expected: timedelta) -> None:
    assert backoff_delay(FEED, POLL, failures, retry_after) == expected


@pytest.mark.parametrize(("max_age", "ttl", "expected"), [
    (None, None, timedelta(minutes=15)),
    (60.0, None, timedelta(minutes=15)),  # hints never speed us up
    (3600.0, None, timedelta(hours=1)),
    (None, timedelta(hours=2), timedelta(hours=2)),
    (10 * 86400.0, None, timedelta(hours=12)),  # capped
])
def test_caching_hints_raise_the_interval(max_age: float | None, ttl: timedelta | None,
                                          expected: timedelta) -> None:
    outcome = PollOutcome(kind="ok", max_age=max_age, ttl=ttl)
    assert polling_interval(FEED.interval, outcome) == expected


def test_failing_is_told_once_then_recovery_is_told() -> None:
    state = run(initial_state(FEED), OK, ERROR, ERROR)
    assert state.status == "ok" and state.notice_sent
    state = run(state, ERROR)
    assert state.status == "failing"
    assert state.notice is not None and "failing" in state.notice and not state.notice_sent
    state = replace(state, notice_sent=True)
    state = run(state, ERROR)
    assert state.notice_sent  # not told again while it keeps failing
    state = run(state, OK)
    assert state.status == "ok" and state.consecutive_failures == 0
    assert state.notice == "feed f recovered" and not state.notice_sent


def test_gone_stops_polling() -> None:
    state = run(initial_state(FEED), PollOutcome(kind="error", error="HTTP 410", http_status=410))
    assert state.status == "gone" and state.next_poll is None
    assert not state.is_due(NOW + timedelta(days=30))


def test_permanent_move_updates_the_url_and_tells_the_user() -> None:
    state = run(initial_state(FEED), replace(OK, moved_to="https://example.org/new"))
    assert state.url == "https://example.org/new"
    assert state.notice is not None and "moved permanently" in state.notice


def test_editing_the_config_url_starts_afresh() -> None:
    state = run(initial_state(FEED), replace(OK, moved_to="https://example.org/new"), ERROR)
    edited = replace(FEED, url="https://example.org/other")
    fresh = reconcile_with_config(state, edited)
    assert (fresh.url, fresh.etag, fresh.consecutive_failures) == (edited.url, None, 0)
    assert fresh.polls == state.polls
    assert reconcile_with_config(state, FEED) is state


def test_settle_saves_new_feeds_and_edited_urls_only() -> None:
    polled = run(initial_state(FEED), OK)
    other = FeedConfig(name="g", url="https://example.org/g", interval=timedelta(minutes=5))
    edited = replace(FEED, url="https://example.org/other")
    assert settle([FEED, other], {"f": polled}) == [initial_state(other)]
    (fresh,) = settle([edited], {"f": polled})
    assert fresh == reconcile_with_config(polled, edited) and fresh.url == edited.url
    assert settle([FEED], {"f": polled}) == []
