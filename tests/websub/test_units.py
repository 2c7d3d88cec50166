"""The pure parts of WebSub: discovery, signatures, what a subscription needs next, and
the polling interval while pushed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from watcher.config import FeedConfig, PollConfig
from watcher.feeds import parse_feed
from watcher.lifecycle import PollOutcome, advance, initial_state
from watcher.websub.discovery import hub_offer, link_header
from watcher.websub.lease import Wanted, next_step, push_shown, retry_delay
from watcher.websub.model import HubOffer, Subscription
from watcher.websub.signature import sign, signature_valid

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
FEED = "https://news.example/feed"

RSS = f"""<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
<channel><title>t</title><link>https://news.example/</link>
<atom:link rel="hub" href="https://hub.example/"/><atom:link rel="self" href="{FEED}"/>
<item><title>x</title><link>https://news.example/1</link></item></channel></rss>"""
ATOM = """<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:t</id>
<link rel="hub" href="/hub"/><entry><id>1</id><title>x</title></entry></feed>"""
JSON_FEED = """{"version": "https://jsonfeed.org/version/1.1", "title": "t",
"feed_url": "https://news.example/feed.json",
"hubs": [{"type": "rssCloud", "url": "https://cloud.example/"},
         {"type": "WebSub", "url": "https://hub.example/websub"}],
"items": [{"id": "1", "url": "https://news.example/1"}]}"""


def test_rss_atom_links_name_the_hub_and_self() -> None:
    parsed = parse_feed(RSS.encode(), {"content-type": "application/rss+xml"}, FEED)
    assert (parsed.hubs, parsed.self_url) == (("https://hub.example/",), FEED)
    assert hub_offer({}, parsed, FEED) == HubOffer("https://hub.example/", FEED)


def test_atom_hub_resolves_and_without_self_the_fetched_url_is_the_topic() -> None:
    parsed = parse_feed(ATOM.encode(), {}, FEED)
    assert hub_offer({}, parsed, FEED) == HubOffer("https://news.example/hub", FEED)


def test_json_feed_hubs_of_type_websub() -> None:
    parsed = parse_feed(JSON_FEED.encode(), {"content-type": "application/feed+json"}, FEED)
    assert hub_offer({}, parsed, FEED) == HubOffer("https://hub.example/websub",
                                                   "https://news.example/feed.json")


def test_link_headers_win_over_the_document() -> None:
    parsed = parse_feed(RSS.encode(), {}, FEED)
    headers = {"link": '<https://other-hub.example/>; rel="hub", '
                       '<https://news.example/canonical>; rel="self"'}
    assert hub_offer(headers, parsed, FEED) == HubOffer("https://other-hub.example/",
                                                        "https://news.example/canonical")


def test_link_header_parameters_and_lists() -> None:
    value = ('<https://a.example/x,y>; title="a; b, c"; rel="hub self", '
             '<javascript:alert(1)>; rel=hub, </rel>; rel=next')
    assert link_header(value, FEED) == {"hub": ["https://a.example/x,y"],
                                        "self": ["https://a.example/x,y"],
                                        "next": ["https://news.example/rel"]}
    assert hub_offer({"link": "<https://n.example/>; rel=next"}, None, FEED) is None


@pytest.mark.parametrize("method", ["sha1", "sha256", "sha384", "sha512"])
def test_signatures_of_each_method(method: str) -> None:
    header = sign(b"body", "s3cret", method)
    assert signature_valid(header, b"body", "s3cret")
    assert signature_valid(header.upper().replace(method.upper(), method), b"body", "s3cret")
    assert not signature_valid(header, b"body!", "s3cret")
    assert not signature_valid(header, b"body", "other")


@pytest.mark.parametrize("header", [None, "", "sha256", "sha256=", "md5=00", "nonsense"])
def test_malformed_signatures_are_invalid(header: str | None) -> None:
    assert not signature_valid(header, b"body", "s3cret")


def sub(**values: object) -> Subscription:
    base = Subscription(feed="wire", hub="https://hub.example/", topic=FEED,
                        callback_id="id", callback="https://w.example/websub/id", secret="s")
    return replace(base, **values)  # type: ignore[arg-type]


WANTED = Wanted(True, "https://w.example/websub/id")
ACTIVE = sub(state="active", verified_at=NOW, lease_end=NOW + timedelta(days=10))


def test_next_steps() -> None:
    assert next_step(sub(), WANTED, NOW) == "subscribe"
    waiting = sub(state="requested", requested_at=NOW)
    assert next_step(waiting, WANTED, NOW + timedelta(minutes=59)) is None
    assert next_step(waiting, WANTED, NOW + timedelta(hours=1)) == "unverified"
    assert next_step(ACTIVE, WANTED, NOW + timedelta(days=8, hours=11)) is None
    assert next_step(ACTIVE, WANTED, NOW + timedelta(days=8, hours=12)) == "subscribe"
    backing_off = replace(ACTIVE, next_attempt=NOW + timedelta(days=9))
    assert next_step(backing_off, WANTED, NOW + timedelta(days=8, hours=12)) is None
    assert next_step(ACTIVE, WANTED, NOW + timedelta(days=10)) == "expire"
    failed = sub(state="failed", next_attempt=NOW + timedelta(minutes=5))
    assert next_step(failed, WANTED, NOW) is None
    assert next_step(failed, WANTED, NOW + timedelta(minutes=5)) == "subscribe"
    moved = Wanted(True, "https://moved.example/websub/id")
    assert next_step(ACTIVE, moved, NOW) == "new_callback"


def test_next_steps_of_subscriptions_nobody_wants() -> None:
    unwanted = Wanted(False)
    assert next_step(ACTIVE, unwanted, NOW) == "unsubscribe"
    assert next_step(sub(state="failed"), unwanted, NOW) == "forget"
    leaving = replace(ACTIVE, state="leaving")
    assert next_step(leaving, WANTED, NOW) == "unsubscribe"
    sent = replace(leaving, requested_at=NOW)
    assert next_step(sent, WANTED, NOW + timedelta(minutes=30)) is None
    assert next_step(sent, WANTED, NOW + timedelta(hours=1)) == "forget"
    assert next_step(replace(leaving, lease_end=NOW), WANTED, NOW) == "forget"


def test_retry_delays_double_up_to_a_day() -> None:
    assert [retry_delay(n) for n in (1, 2, 3)] == [timedelta(minutes=m) for m in (5, 10, 20)]
    assert retry_delay(40) == timedelta(days=1)


def test_pushed_feeds_are_polled_at_max_interval_then_at_their_own_pace() -> None:
    feed = FeedConfig("wire", FEED, timedelta(minutes=15))
    poll = PollConfig(jitter=0)
    state = initial_state(feed)
    ok = PollOutcome(kind="ok")
    pushed = advance(state, ok, feed, poll, NOW, 0.0, pushed=True)
    assert pushed.next_poll == NOW + poll.max_interval
    later = NOW + timedelta(hours=6)
    assert advance(pushed, ok, feed, poll, later, 0.0).next_poll == later + timedelta(
        minutes=15)
    failed = advance(pushed, PollOutcome(kind="error", error="x"), feed, poll, later, 0.0,
                     pushed=True)
    assert failed.next_poll == later + timedelta(minutes=15)  # backoff is backoff


def test_push_state_as_shown() -> None:
    assert push_shown(None, NOW) == "-"
    assert push_shown(ACTIVE, NOW) == "active until 2026-12-03 07:00 UTC"
    assert push_shown(sub(state="failed", failures=2, last_error="HTTP 503"), NOW) == \
        "failed x2: HTTP 503"
    assert push_shown(sub(state="denied", last_error="denied by the hub: no"), NOW) == \
        "denied by the hub: no"
