"""WebSub end to end: a real hub on 127.0.0.1 verifies our intent and pushes signed
content to the real web app (uvicorn), which asks the daemon (its real tick) for a poll;
subscriptions live in a real index. Nothing is mocked; the clock is the daemon's own
injected clock, moved by the test."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx

from tests.websub.world import START, World, world
from watcher.cluster.work import RuntimeWork
from watcher.websub.lease import RENEW_AFTER
from watcher.websub.signature import sign

LEASE = 10 * 24 * 3600  # what the test hub grants, in seconds


async def subscribed(w: World) -> str:
    """Poll (finds the hub), run the subscription round (the hub verifies); the callback."""
    await w.poll()
    sub = w.subscription()
    assert sub is not None and sub.state == "new" and sub.hub == w.hub.url
    assert sub.topic == w.server.url("/atom")
    await w.runtime.keep_subscriptions()
    sub = w.subscription()
    assert sub is not None and sub.state == "active", sub
    return sub.callback


async def test_subscription_is_verified_and_a_signed_push_stores_the_new_entries(
        tmp_path: Path) -> None:
    async with world(tmp_path, grant_lease=LEASE) as w:
        callback = await subscribed(w)
        assert callback.startswith(f"{w.web_url}/websub/")
        (asked,) = w.hub.requests
        assert asked["hub.mode"] == "subscribe" and asked["hub.callback"] == callback
        assert len(asked["hub.secret"]) >= 32 and int(asked["hub.lease_seconds"]) > 0
        assert w.hub.verifications[-1].echoed
        sub = w.subscription()
        assert sub is not None and sub.lease_end == START + timedelta(seconds=LEASE)
        assert w.stored_titles() == ["First story"]

        w.titles.append("Second story")
        w.publish_feed()
        w.clock.advance(timedelta(minutes=1))
        answer = w.hub.publish(callback, b"<feed/>")
        assert answer.status_code == 202
        daemon = await w.tick()  # not due by its schedule: polled because of the push
        assert daemon.in_flight == {}
        assert w.stored_titles() == ["First story", "Second story"]
        assert w.runtime.store.websub.poll_requests() == {}
        # While pushed, the feed is polled only as a safety net: poll.max_interval.
        state = w.runtime.store.feed_state("wire")
        assert state is not None and state.next_poll == w.clock() + timedelta(hours=6)
        pushed = w.subscription()
        assert pushed is not None and pushed.pushes == 1 and pushed.last_push == w.clock()
        metrics = httpx.get(f"{w.web_url}/metrics", trust_env=False,
                            headers={"Authorization": "Bearer secret-token"}).text
        assert 'watcher_websub_pushes_total{outcome="accepted"} 1.0' in metrics


async def test_every_signature_method_of_the_spec_is_accepted(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        callback = await subscribed(w)
        for number, method in enumerate(("sha1", "sha256", "sha384", "sha512"), start=1):
            assert w.hub.publish(callback, b"<feed/>", method=method).status_code == 202
            sub = w.subscription()
            assert sub is not None and sub.pushes == number


async def test_forged_and_unwanted_requests_change_nothing(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        callback = await subscribed(w)
        w.titles.append("Planted story")
        w.publish_feed()
        before = w.subscription()
        secret = w.hub.subscriptions[callback].secret
        body = b"<feed>pushed</feed>"
        # a wrong signature, and none at all: 2xx as the spec allows, and ignored
        assert w.hub.publish(callback, body, secret="not-the-secret").status_code == 202
        assert w.hub.publish(callback, body, signature=sign(b"other body", secret)
                             ).status_code == 202
        assert w.hub.publish(callback, body, signature="md5=abc").status_code == 202
        assert w.hub.publish(callback, body, signed=False).status_code == 202
        # an unknown callback id: gone
        stranger = callback.rsplit("/", 1)[0] + "/not-a-subscription"
        assert w.hub.publish(stranger, body, secret=secret).status_code == 410
        # a body over network.max_feed_bytes (64 KiB here), even correctly signed
        big = b"x" * (65 * 1024)
        assert w.hub.publish(callback, big, secret=secret).status_code == 413
        # a verification for a topic we never asked for, or a mode we did not ask for
        assert w.hub.verify(callback, "subscribe", "https://elsewhere.example/feed"
                            ).status == 404
        assert w.hub.verify(callback, "unsubscribe", w.server.url("/atom")).status == 404
        assert w.hub.verify(stranger, "subscribe", w.server.url("/atom")).status == 404
        # nor does a subscribe for our own topic count when we have not just asked for one
        assert w.hub.verify(callback, "subscribe", w.server.url("/atom")).status == 404
        assert w.subscription() == before
        assert w.runtime.store.websub.poll_requests() == {}
        await w.tick()
        assert "Planted story" not in w.stored_titles()
        metrics = httpx.get(f"{w.web_url}/metrics", trust_env=False,
                            headers={"Authorization": "Bearer secret-token"}).text
        for outcome, count in (("bad_signature", 3), ("no_signature", 1),
                               ("unknown_callback", 1), ("too_large", 1)):
            assert f'watcher_websub_pushes_total{{outcome="{outcome}"}} {count}.0' in metrics


async def test_the_callbacks_need_no_token_but_the_pages_still_do(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        callback = await subscribed(w)
        assert httpx.get(f"{w.web_url}/", trust_env=False).status_code == 401
        assert httpx.get(callback, trust_env=False).status_code == 404  # reached, refused


async def test_the_lease_is_renewed_before_it_ends(tmp_path: Path) -> None:
    async with world(tmp_path, grant_lease=LEASE) as w:
        callback = await subscribed(w)
        lease = timedelta(seconds=LEASE)
        w.clock.advance(lease * RENEW_AFTER - timedelta(minutes=1))
        await w.runtime.keep_subscriptions()
        assert len(w.hub.requests) == 1  # too early
        w.clock.advance(timedelta(minutes=2))
        await w.runtime.keep_subscriptions()
        assert len(w.hub.requests) == 2
        renewal = w.hub.requests[-1]
        assert renewal["hub.mode"] == "subscribe" and renewal["hub.callback"] == callback
        sub = w.subscription()
        assert sub is not None and sub.state == "active"
        assert sub.lease_end == w.clock() + lease  # before the first lease ended
        assert sub.lease_end > START + lease


async def test_polling_falls_back_when_the_lease_is_lost_and_resubscribes_with_backoff(
        tmp_path: Path) -> None:
    async with world(tmp_path, grant_lease=LEASE) as w:
        await subscribed(w)
        await w.poll()  # the first poll while pushed: the safety net's pace
        state = w.runtime.store.feed_state("wire")
        assert state is not None and state.next_poll == START + timedelta(hours=6)
        w.hub.answer = 503  # the hub fails every renewal from now on
        w.clock.advance(timedelta(seconds=LEASE) * RENEW_AFTER)
        await w.runtime.keep_subscriptions()
        sub = w.subscription()
        assert sub is not None and sub.state == "active" and sub.failures == 1
        assert sub.last_error is not None and "HTTP 503" in sub.last_error
        assert sub.next_attempt == w.clock() + timedelta(minutes=5)
        w.clock.advance(timedelta(minutes=5))
        await w.runtime.keep_subscriptions()
        sub = w.subscription()
        assert sub is not None and sub.failures == 2
        assert sub.next_attempt == w.clock() + timedelta(minutes=10)  # backed off
        # the lease ends unrenewed: the daemon asks for a poll, which is back on its own pace
        w.clock.now = START + timedelta(seconds=LEASE)
        await w.runtime.keep_subscriptions()
        sub = w.subscription()
        assert sub is not None and sub.state == "expired" and not sub.active(w.clock())
        await w.tick()
        state = w.runtime.store.feed_state("wire")
        assert state is not None and state.last_poll == w.clock()
        assert state.next_poll == w.clock() + timedelta(minutes=15)  # poll.interval again
        # and once the hub works again, it resubscribes
        w.hub.answer = 202
        w.clock.advance(timedelta(minutes=30))
        await w.runtime.keep_subscriptions()
        sub = w.subscription()
        assert sub is not None and sub.active(w.clock())


async def test_a_denial_is_recorded_and_polling_resumes(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        callback = await subscribed(w)
        assert w.hub.deny(callback, w.server.url("/atom"), "publisher said no") == 200
        sub = w.subscription()
        assert sub is not None and sub.state == "denied"
        assert sub.last_error == "denied by the hub: publisher said no"
        await w.tick()
        state = w.runtime.store.feed_state("wire")
        assert state is not None and state.next_poll == START + timedelta(minutes=15)


async def test_a_feed_leaving_the_config_is_unsubscribed(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        callback = await subscribed(w)
        text = w.config.path.read_text().replace("  - name: wire\n",
                                                 "  - name: wire\n    websub: false\n")
        w.config.path.write_text(text)
        from watcher.config import load_config

        await w.runtime.apply_config(load_config(w.config.path))
        await w.runtime.keep_subscriptions()
        assert w.hub.requests[-1]["hub.mode"] == "unsubscribe"
        assert w.hub.verifications[-1].mode == "unsubscribe" and w.hub.verifications[-1].echoed
        assert w.subscription() is None and callback not in w.hub.subscriptions
        # the hub's late pushes to the old callback are told it is gone
        assert w.hub.publish(callback, b"<feed/>", secret="x").status_code == 410


async def test_without_public_url_nothing_about_websub_happens(tmp_path: Path) -> None:
    async with world(tmp_path, public=False) as w:
        await w.poll()
        await w.runtime.keep_subscriptions()
        assert w.subscription() is None and w.hub.requests == []
        assert w.stored_titles() == ["First story"]
        response = httpx.get(f"{w.web_url}/websub/anything", trust_env=False,
                             params={"hub.mode": "subscribe", "hub.challenge": "c"})
        assert response.status_code == 404


async def test_the_hub_may_be_named_only_in_link_headers(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        w.offers_hub = False
        w.server.route("/atom", atom_body(w), content_type="application/atom+xml",
                       headers={"Link": f'<{w.hub.url}>; rel="hub", '
                                        f'<{w.server.url("/canonical")}>; rel="self"'})
        await w.poll()
        sub = w.subscription()
        assert sub is not None and (sub.hub, sub.topic) == (w.hub.url,
                                                             w.server.url("/canonical"))


def atom_body(w: World) -> str:
    from tests.websub.world import atom_feed

    return atom_feed(w.server, None, w.titles)


async def test_a_cluster_scheduler_subscribes_and_polls_a_pushed_feed(tmp_path: Path) -> None:
    """The cluster's scheduler round looks after the subscriptions as the daemon's job does,
    and a push makes the feed due for a poll job whatever its schedule (the cluster's work on
    the same runtime; its queue is tested in tests/cluster)."""
    async with world(tmp_path, grant_lease=LEASE) as w:
        work = RuntimeWork(w.runtime)
        for entry in await work.poll("wire"):
            await work.process_entry(entry)
        await work.scheduler_round()  # subscribes; the hub verifies
        sub = w.subscription()
        assert sub is not None and sub.state == "active", sub
        assert work.due_feeds() == []
        w.titles.append("Second story")
        w.publish_feed()
        w.clock.advance(timedelta(minutes=1))
        assert w.hub.publish(sub.callback, b"<feed/>").status_code == 202
        assert work.due_feeds() == ["wire"]
        for entry in await work.poll("wire"):
            await work.process_entry(entry)
        assert w.stored_titles() == ["First story", "Second story"]
        assert w.runtime.store.websub.poll_requests() == {} and work.due_feeds() == []
