"""The outbox end to end with real peers: aiosmtpd, a webhook receiver, a folder, SQLite."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tests.digest.fixtures import HOSTILE_BODY, HOSTILE_TITLE
from tests.notify.helpers import T0, add_article, config, service
from tests.notify.peers import smtp_server
from tests.support.local import free_port
from tests.support.servers import LocalHTTPServer, Reply, Request
from watcher.config import ChannelConfig, EmailChannel, FileChannel, SlackChannel
from watcher.digest import digest_to_json
from watcher.extract.boilerplate import fingerprints
from watcher.store import Store
from watcher.store.outbox import NewRun
from watcher.types import FeedState

BODY = "Officials spoke on Monday. The MI6 chief urged Russians to defect. Nothing else."


def email(url: str, name: str = "mail") -> EmailChannel:
    return EmailChannel(name=name, smtp=url, sender="watcher@example.org",
                        to=("analyst@example.org",))


def states(store: Store) -> dict[str, tuple[str, int]]:
    return {d.channel: (d.state, d.attempts) for d in store.outbox.deliveries()}


async def test_digest_to_email_slack_and_file_then_send_again_sends_nothing(
        tmp_path: Path, store: Store, client: httpx.AsyncClient) -> None:
    add_article(store, 1, "MI6 chief speaks", BODY, when=T0 - timedelta(hours=2))
    add_article(store, 2, HOSTILE_TITLE, HOSTILE_BODY, when=T0 - timedelta(hours=1),
                site="hostile.example", source="partial")
    received: list[dict[str, object]] = []

    def hook(request: Request) -> Reply:
        received.append(json.loads(request.body))
        return Reply(200, b"ok", etag=False)

    with smtp_server() as (smtp, url), LocalHTTPServer() as web:
        web.handle("/hook", hook)
        channels: list[ChannelConfig] = [email(url), SlackChannel("slack", web.url("/hook")),
                                         FileChannel("archive", tmp_path / "digests")]
        svc = service(config(tmp_path, channels), store, client)
        result = await svc.run_digest("morning", T0 + timedelta(seconds=3))
        assert result.created and result.items == 2
        assert {d.channel: d.state for d in result.deliveries} == {
            "mail": "sent", "slack": "sent", "archive": "sent"}
        again = await svc.run_digest("morning", T0 + timedelta(minutes=5))
        assert not again.created
        # A fresh process (restart) agrees: the slot is done.
        again = await service(config(tmp_path, channels), store, client).run_digest(
            "morning", T0 + timedelta(hours=1))
        assert not again.created
    assert len(smtp.messages) == 1 and len(received) == 1
    assert len(list((tmp_path / "digests").iterdir())) == 3
    mail = smtp.messages[0]
    assert mail["Subject"] == "[watcher] morning: 2 articles, 1 rule"
    assert mail["Bcc"] is None and smtp.envelopes[0][1] == ["analyst@example.org"]
    assert "&lt;!channel&gt;" in json.dumps(received[0])


async def test_451_then_250_retries_with_backoff_and_delivers_once(
        tmp_path: Path, store: Store, client: httpx.AsyncClient) -> None:
    add_article(store, 1, "MI6 chief speaks", BODY, when=T0 - timedelta(hours=2))
    with smtp_server(["451 4.3.0 mailbox busy"]) as (smtp, url):
        svc = service(config(tmp_path, [email(url)]), store, client)
        await svc.run_digest("morning", T0)
        (row,) = store.outbox.deliveries()
        assert row.state == "pending" and row.attempts == 1 and "451" in (row.last_error or "")
        assert timedelta(seconds=0.8) <= row.next_attempt - T0 <= timedelta(seconds=1.2)
        await svc.deliver_pending(T0 + timedelta(milliseconds=100))  # not due yet
        assert smtp.attempts == 1
        await svc.deliver_pending(T0 + timedelta(seconds=2))
        await svc.deliver_pending(T0 + timedelta(seconds=60))
    assert states(store) == {"mail": ("sent", 2)}
    assert len(smtp.messages) == 1


async def test_550_fails_for_good_is_shown_and_not_retried(
        tmp_path: Path, store: Store, client: httpx.AsyncClient) -> None:
    add_article(store, 1, "MI6 chief speaks", BODY, when=T0 - timedelta(hours=2))
    with smtp_server(["550 5.1.1 no such user"]) as (smtp, url):
        svc = service(config(tmp_path, [email(url)]), store, client)
        await svc.run_digest("morning", T0)
        await svc.deliver_pending(T0 + timedelta(hours=1))
    (row,) = store.outbox.deliveries(states=["failed"])
    assert "550" in (row.last_error or "") and row.attempts == 1
    assert smtp.attempts == 1 and smtp.messages == []


async def test_server_down_then_up_nothing_lost_nothing_doubled(
        tmp_path: Path, store: Store, client: httpx.AsyncClient) -> None:
    add_article(store, 1, "MI6 chief speaks", BODY, when=T0 - timedelta(hours=2))
    port = free_port()
    svc = service(config(tmp_path, [email(f"smtp://127.0.0.1:{port}")]), store, client)
    await svc.run_digest("morning", T0)
    await svc.deliver_pending(T0 + timedelta(seconds=2))  # still down: second attempt
    assert states(store) == {"mail": ("pending", 2)}
    with smtp_server(port=port) as (smtp, _url):
        await svc.deliver_pending(T0 + timedelta(seconds=10))
        await svc.deliver_pending(T0 + timedelta(seconds=60))
    assert states(store) == {"mail": ("sent", 3)}
    assert len(smtp.messages) == 1


async def test_gives_up_after_max_attempts_and_says_so(
        tmp_path: Path, store: Store, client: httpx.AsyncClient) -> None:
    add_article(store, 1, "MI6 chief speaks", BODY, when=T0 - timedelta(hours=2))
    svc = service(config(tmp_path, [email(f"smtp://127.0.0.1:{free_port()}")]), store, client)
    await svc.run_digest("morning", T0)
    for minute in range(1, 6):
        await svc.deliver_pending(T0 + timedelta(minutes=minute))
    (row,) = store.outbox.deliveries()
    assert row.state == "failed" and row.attempts == 4
    assert (row.last_error or "").startswith("gave up after 4 attempts")


class ProcessDied(BaseException):
    """The process ending where it stands (a BaseException: no handler of ours catches it)."""


def die(*_args: object) -> None:
    raise ProcessDied


async def test_crash_after_smtp_accepted_resends_once_with_the_same_message_id(
        tmp_path: Path, store: Store, client: httpx.AsyncClient,
        monkeypatch: pytest.MonkeyPatch) -> None:
    add_article(store, 1, "MI6 chief speaks", BODY, when=T0 - timedelta(hours=2))
    with smtp_server() as (smtp, url):
        cfg = config(tmp_path, [email(url)])
        # The crash: the server accepted, the process died before recording "sent".
        crashing = service(cfg, store, client)
        monkeypatch.setattr(crashing.outbox, "mark_sent", die)
        with pytest.raises(ProcessDied):
            await crashing.run_digest("morning", T0)
        monkeypatch.undo()
        restarted = service(cfg, store, client)
        await restarted.deliver_pending(T0 + timedelta(seconds=5))  # within the lease
        assert len(smtp.messages) == 1
        await restarted.deliver_pending(T0 + timedelta(minutes=1))  # lease expired
        await restarted.deliver_pending(T0 + timedelta(minutes=2))
    assert states(store) == {"mail": ("sent", 2)}
    assert len(smtp.messages) == 2
    assert smtp.message_ids()[0] == smtp.message_ids()[1]


async def test_crash_between_fixing_and_sending_loses_nothing(
        tmp_path: Path, store: Store, client: httpx.AsyncClient) -> None:
    add_article(store, 1, "MI6 chief speaks", BODY, when=T0 - timedelta(hours=2))
    with smtp_server() as (smtp, url):
        cfg = config(tmp_path, [email(url)])
        svc = service(cfg, store, client)
        digest = svc.build("morning", T0)
        store.outbox.create_run(NewRun(
            key="digest:morning@2023-07-20T06:00:00+00:00", kind="digest", name="morning",
            since=digest.since, cutoff=T0, created=T0, item_count=digest.item_count,
            payload=digest_to_json(digest), channels=("mail",)))
        # ...crash here. After the restart the scheduler's slot call delivers the fixed run.
        result = await service(cfg, store, client).run_digest("morning", T0 + timedelta(
            seconds=30))
        assert not result.created and result.deliveries[0].state == "sent"
    assert len(smtp.messages) == 1


async def test_slack_parts_resume_after_a_500_without_repeating(
        tmp_path: Path, store: Store, client: httpx.AsyncClient) -> None:
    long_body = " ".join(["The MI6 chief spoke about defectors at length."] * 12)
    for n in range(60):
        # Sixty stories: their long titles have no rare word in common but "MI6".
        add_article(store, n, f"MI6 story number {n} " + f"{n:03d}" * 67,
                    f"Distinct opening {n} {n * 7919}. {long_body} Closing {n}.",
                    when=T0 - timedelta(minutes=n + 1), site=f"site{n}.example")
    got: list[str] = []
    answers = [200, 500]

    def hook(request: Request) -> Reply:
        status = answers.pop(0) if answers else 200
        if status == 200:
            got.append(json.loads(request.body)["text"])
        return Reply(status, b"ok" if status == 200 else b"err", etag=False)

    with LocalHTTPServer() as web:
        web.handle("/hook", hook)
        svc = service(config(tmp_path, [SlackChannel("slack", web.url("/hook"))]), store, client)
        await svc.run_digest("morning", T0)
        (row,) = store.outbox.deliveries()
        assert row.state == "pending" and row.parts_done == 1
        await svc.deliver_pending(T0 + timedelta(minutes=1))
    total = int(got[0].rsplit("/", 1)[1].rstrip(")"))
    assert total >= 3
    assert got == [f"[watcher] morning: 60 articles, 1 rule ({i}/{total})"
                   for i in range(1, total + 1)]


async def test_feed_notice_goes_into_one_digest_once(
        tmp_path: Path, store: Store, client: httpx.AsyncClient) -> None:
    store.save_feed_states([FeedState(
        name="bbc", config_url="https://bbc.example/rss", url="https://bbc.example/rss",
        notice="failing after 5 attempts: HTTP 503", notice_sent=False)])
    cfg = config(tmp_path, [FileChannel("archive", tmp_path / "out")])
    svc = service(cfg, store, client)
    preview = svc.preview("morning", T0)
    assert "bbc: failing after 5 attempts" in preview.text
    assert store.outbox.pending_notices()  # a preview marks nothing
    result = await svc.run_digest("morning", T0)
    assert result.created
    assert store.outbox.pending_notices() == []
    nxt = svc.preview("morning", T0 + timedelta(days=1))
    assert "bbc" not in nxt.text


async def test_min_items_and_send_empty(tmp_path: Path, store: Store,
                                        client: httpx.AsyncClient) -> None:
    cfg = config(tmp_path, [FileChannel("archive", tmp_path / "out")], min_items=2)
    svc = service(cfg, store, client)
    assert (await svc.run_digest("morning", T0)).skipped == "nothing matched (send_empty is off)"
    add_article(store, 1, "MI6 chief speaks", BODY, when=T0 - timedelta(hours=2))
    skipped = await svc.run_digest("morning", T0)
    assert skipped.skipped and "min_items" in skipped.skipped
    add_article(store, 2, "MI6 again", "Another MI6 story entirely, about budgets.",
                when=T0 + timedelta(hours=1))
    # Nothing was cut off: a later call for the same slot has both.
    assert (await svc.run_digest("morning", T0 + timedelta(hours=20))).items == 2
    empty = config(tmp_path, [FileChannel("archive", tmp_path / "out")], send_empty=True)
    result = await service(empty, store, client).run_digest("morning", T0 + timedelta(days=2))
    assert result.created and result.items == 0


def test_folding_ignores_the_boilerplate_ingestion_learned(
        tmp_path: Path, store: Store, client: httpx.AsyncClient) -> None:
    appeal = ("Your support helps us to tell the story. We rely on readers like you to "
              "keep our journalism free for everyone, wherever they are in the world.\n"
              "Join our commenting forum and sign up to our newsletter for the latest news "
              "and analysis from our correspondents around the globe every morning.")
    stories = ["The MI6 chief spoke in Prague about Russian officials and their choices.",
               "Wagner fighters crossed into Belarus overnight, the ministry in Minsk said."]
    for n, story in enumerate(stories, 1):
        add_article(store, n, f"MI6 story {n}", f"{appeal}\n{story}",
                    when=T0 - timedelta(hours=n), site="independent.co.uk")
    svc = service(config(tmp_path, []), store, client)
    # Two articles only: nobody knows yet that the appeal is the site's, so they fold...
    assert svc.build("morning", T0).item_count == 1
    # ...ingestion saw the appeal on a third page of the site: it is boilerplate, no fold.
    learned = store.boilerplate
    for n, story in enumerate([*stories, "A third story."], 1):
        learned.record("independent.co.uk", f"page-{n}", fingerprints([*appeal.split("\n"),
                                                                       story]), T0)
    assert svc.build("morning", T0).item_count == 2
