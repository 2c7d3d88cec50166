"""Immediate alerts: sent at once, one message per rule per throttle window, the rest counted,
and not repeated by the digest unless asked."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx

from tests.notify.helpers import RULES, T0, Rule, RuleSet, add_article, config, service
from tests.notify.peers import smtp_server
from watcher.config import EmailChannel, FileChannel
from watcher.notify.service import DeliveryService
from watcher.store import Store
from watcher.types import Filed


def mail(url: str) -> EmailChannel:
    return EmailChannel(name="pager", smtp=url, sender="watcher@example.org",
                        to=("oncall@example.org",))


def urgent(store: Store, n: int, minutes: int) -> Filed:
    stored = add_article(store, n, f"Urgent: MI6 story {n}",
                         f"Story {n} opens with its own words {n * 31}. Urgent MI6 news.",
                         when=T0 + timedelta(minutes=minutes), site=f"s{n}.example")
    return Filed(stored.number, tuple(match.rule for match in stored.matches))


async def test_burst_is_collapsed_per_throttle_window(tmp_path: Path, store: Store,
                                                      client: httpx.AsyncClient) -> None:
    with smtp_server() as (smtp, url):
        cfg = config(tmp_path, [mail(url), FileChannel("archive", tmp_path / "d")],
                     digest_channels=["archive"], alert_channels=["pager"])
        svc = service(cfg, store, client)
        first = [urgent(store, n, 0) for n in range(3)]
        await svc.on_stored(first, T0)
        assert len(smtp.messages) == 1
        assert smtp.messages[0]["Subject"] == "[watcher] alert urgent: 3 articles"
        await svc.on_stored(first, T0 + timedelta(minutes=1))  # seen again: nothing new
        burst = [urgent(store, n, 2) for n in range(3, 10)]
        await svc.on_stored(burst, T0 + timedelta(minutes=2))
        await svc.deliver_pending(T0 + timedelta(minutes=9))
        assert len(smtp.messages) == 1  # still inside the 10-minute window
        await svc.deliver_pending(T0 + timedelta(minutes=10))
        assert len(smtp.messages) == 2
        assert smtp.messages[1]["Subject"] == "[watcher] alert urgent: 5 articles (+2 more)"
        body = smtp.messages[1].get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "2 further matches in this window, not listed." in body
        await svc.deliver_pending(T0 + timedelta(minutes=30))
        assert len(smtp.messages) == 2

        # The digest leaves out the 8 listed articles; the 2 only counted are still news.
        digest = svc.build("morning", T0 + timedelta(hours=1))
        assert digest.item_count == 2
        again = config(tmp_path, [mail(url)], digest_channels=["pager"],
                       alert_channels=["pager"], include_alerted=True)
        assert service(again, store, client).build("morning", T0 + timedelta(hours=1)
                                                   ).item_count == 10


async def test_rule_channels_override_the_default(tmp_path: Path, store: Store,
                                                  client: httpx.AsyncClient) -> None:
    rules = RuleSet(tuple(r if r.name != "urgent" else Rule("urgent", "Urgent",
                                                            alert="immediate",
                                                            channels=("archive",))
                          for r in RULES.rules))
    with smtp_server() as (smtp, url):
        cfg = config(tmp_path, [mail(url), FileChannel("archive", tmp_path / "d")],
                     alert_channels=["pager"])
        svc = service(cfg, store, client, rules)
        await svc.on_stored([urgent(store, 1, 0)], T0)
    assert smtp.messages == []
    assert len(list((tmp_path / "d").glob("*-alert-urgent-*.eml"))) == 1


async def test_without_any_channel_alerts_fall_back_to_the_digest(
        tmp_path: Path, store: Store, client: httpx.AsyncClient) -> None:
    cfg = config(tmp_path, [FileChannel("archive", tmp_path / "d")])
    svc = service(cfg, store, client)
    await svc.on_stored([urgent(store, 1, 0)], T0)
    assert not (tmp_path / "d").exists()
    assert svc.build("morning", T0 + timedelta(hours=1)).item_count == 1


async def test_each_immediate_rule_an_article_matches_alerts_and_a_new_rule_set_counts(
        tmp_path: Path, store: Store, client: httpx.AsyncClient) -> None:
    both = RuleSet((Rule("mi6", "MI6", alert="immediate"), Rule("wagner", "Wagner"),
                    Rule("urgent", "Urgent", alert="immediate")))
    current = [both]
    cfg = config(tmp_path, [FileChannel("archive", tmp_path / "d")], alert_channels=["archive"])
    svc = DeliveryService(cfg, store, client, lambda: current[0])
    first = [urgent(store, n, 0) for n in range(2)]  # each matches urgent and mi6
    assert all(filed.rules == ("mi6", "urgent") for filed in first)
    await svc.on_stored(first, T0)
    sent = sorted(path.name.split("-alert-")[1].split("-")[0]
                  for path in (tmp_path / "d").glob("*-alert-*.eml"))
    assert sent == ["mi6", "urgent"]

    current[0] = RULES  # reloaded: mi6 is a digest rule again
    await svc.on_stored([urgent(store, 2, 20)], T0 + timedelta(minutes=20))
    assert store.outbox.held_alerts() == {}
    assert len(list((tmp_path / "d").glob("*-alert-urgent-*.eml"))) == 2
    assert len(list((tmp_path / "d").glob("*-alert-mi6-*.eml"))) == 1
