"""Each channel against a real peer: aiosmtpd, a local webhook receiver, a folder."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import httpx
import pytest

from tests.digest.fixtures import fixed_digest
from tests.notify.peers import smtp_server
from tests.support.local import free_port
from tests.support.servers import LocalHTTPServer, Reply, Request
from watcher.config import EmailChannel, FileChannel, SlackChannel
from watcher.errors import PermanentDeliveryError, TransientDeliveryError
from watcher.notify.email import EmailSender, parse_smtp_url
from watcher.notify.files import FileSender
from watcher.notify.message import Outgoing, outgoing
from watcher.notify.redact import redact_url
from watcher.notify.slack import SlackSender, parse_retry_after

KEY = "digest:morning@2023-07-20T06:00:00+00:00"


@pytest.fixture(scope="module")
def message() -> Outgoing:
    return outgoing(KEY, fixed_digest(), datetime(2023, 7, 20, 6, 0, 5, tzinfo=UTC))


def noop(_n: int) -> None:
    pass


def email_channel(url: str) -> EmailChannel:
    return EmailChannel(name="mail", smtp=url, sender="watcher@example.org",
                        to=("analyst@example.org", "desk@example.org"))


async def test_email_parts_headers_and_inert_feed_text(message: Outgoing) -> None:
    with smtp_server() as (server, url):
        message_id = await EmailSender(email_channel(url)).send(
            message, parts_done=0, mark_part=noop)
    assert len(server.messages) == 1
    mail = server.messages[0]
    assert mail["Subject"] == "[watcher] morning: 3 articles, 2 rules, 1 feed notice"
    assert mail["From"] == "watcher@example.org"
    assert mail["To"] == "analyst@example.org, desk@example.org"
    assert mail["Message-ID"] == message_id == message.message_id("example.org")
    assert mail["Date"] == "Thu, 20 Jul 2023 06:00:05 +0000"
    assert mail.get_content_type() == "multipart/alternative"
    kinds = [p.get_content_type() for p in mail.iter_parts()]
    assert kinds == ["text/plain", "text/html"]
    # The hostile "\r\nBcc:" stayed in the body text: no header, no extra recipient.
    assert mail["Bcc"] is None
    assert server.envelopes[0][1] == ["analyst@example.org", "desk@example.org"]
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "<script>" not in html and "&lt;script&gt;" in html
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Spy chief <script>" in text  # plain text shows it as text


async def test_email_451_is_transient_550_permanent(message: Outgoing) -> None:
    with smtp_server(["451 4.3.0 try again later"]) as (server, url):
        with pytest.raises(TransientDeliveryError, match="451"):
            await EmailSender(email_channel(url)).send(message, parts_done=0, mark_part=noop)
        await EmailSender(email_channel(url)).send(message, parts_done=0, mark_part=noop)
        assert len(server.messages) == 1
    with smtp_server(["550 5.7.1 rejected"]) as (server, url):
        with pytest.raises(PermanentDeliveryError, match="550"):
            await EmailSender(email_channel(url)).send(message, parts_done=0, mark_part=noop)
        assert server.messages == []


async def test_email_server_down_is_transient_and_password_never_shown(
        message: Outgoing) -> None:
    url = f"smtp://user:s3cret-pass@127.0.0.1:{free_port()}"
    with pytest.raises(TransientDeliveryError) as caught:
        await EmailSender(email_channel(url)).send(message, parts_done=0, mark_part=noop)
    assert "s3cret" not in str(caught.value)


def test_smtp_urls() -> None:
    assert parse_smtp_url("smtp+starttls://u%40x:p%2Fw@mail.example:2525").password == "p/w"
    assert parse_smtp_url("smtps://mail.example").port == 465
    assert parse_smtp_url("smtp://mail.example").port == 25
    with pytest.raises(PermanentDeliveryError):
        parse_smtp_url("http://mail.example")
    assert redact_url("https://hooks.slack.com/services/T0/B0/XyZ") == \
        "https://hooks.slack.com/***"


async def test_file_channel_writes_three_files_atomically(message: Outgoing,
                                                          tmp_path: Path) -> None:
    sender = FileSender(FileChannel(name="archive", dir=tmp_path / "digests"))
    stem = await sender.send(message, parts_done=0, mark_part=noop)
    await sender.send(message, parts_done=0, mark_part=noop)  # a resend overwrites
    files = sorted(p.name for p in (tmp_path / "digests").iterdir())
    assert files == [f"{stem}.eml", f"{stem}.html", f"{stem}.txt"]
    eml = message_from_bytes((tmp_path / "digests" / f"{stem}.eml").read_bytes(),
                             policy=policy.default)
    assert eml["Message-ID"].startswith("<") and eml["Bcc"] is None
    assert (tmp_path / "digests" / f"{stem}.txt").read_text(encoding="utf-8") == message.text


async def test_slack_posts_blocks_and_maps_statuses(message: Outgoing,
                                                    client: httpx.AsyncClient) -> None:
    answers = [Reply(500, b"oops", etag=False), Reply(429, b"slow down",
               {"Retry-After": "1"}, etag=False), Reply(200, b"ok", etag=False)]
    received: list[dict[str, object]] = []

    def hook(request: Request) -> Reply:
        reply = answers.pop(0) if answers else Reply(200, b"ok", etag=False)
        if reply.status == 200:
            received.append(json.loads(request.body))
        return reply

    with LocalHTTPServer() as server:
        server.handle("/services/T0/B0/secret", hook)
        server.route("/gone", b"no_service", status=410, etag=False)
        sender = SlackSender(SlackChannel(name="s", webhook=server.url("/services/T0/B0/secret")),
                             client, max_inline_wait=2)
        with pytest.raises(TransientDeliveryError, match="500"):
            await sender.send(message, parts_done=0, mark_part=noop)
        marks: list[int] = []
        await sender.send(message, parts_done=0, mark_part=marks.append)  # 429 waits, then ok
        assert marks == [1] and server.hits("/services/T0/B0/secret") == 3
        assert received == [json.loads(json.dumps(message.slack[0]))]
        gone = SlackSender(SlackChannel(name="g", webhook=server.url("/gone")), client)
        with pytest.raises(PermanentDeliveryError, match="410"):
            await gone.send(message, parts_done=0, mark_part=noop)


async def test_slack_long_retry_after_goes_back_to_the_outbox(
        message: Outgoing, client: httpx.AsyncClient) -> None:
    with LocalHTTPServer() as server:
        server.route("/hook", b"", status=429, headers={"Retry-After": "120"}, etag=False)
        sender = SlackSender(SlackChannel(name="s", webhook=server.url("/hook")), client,
                             max_inline_wait=1)
        with pytest.raises(TransientDeliveryError) as caught:
            await sender.send(message, parts_done=0, mark_part=noop)
    assert caught.value.retry_after == 120


def test_retry_after_forms() -> None:
    now = datetime(2023, 7, 20, 6, 0, tzinfo=UTC)
    assert parse_retry_after("30") == 30
    assert parse_retry_after("Thu, 20 Jul 2023 06:01:00 GMT", now) == 60
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


async def test_apprise_sends_the_plain_text_body(message: Outgoing) -> None:
    from watcher.config import AppriseChannel
    from watcher.notify.apprise_channel import AppriseSender

    bodies: list[dict[str, object]] = []

    def hook(request: Request) -> Reply:
        bodies.append(json.loads(request.body))
        return Reply(200, b"{}", etag=False)

    with LocalHTTPServer() as server:
        server.handle("/notify", hook)
        port = server.port
        sender = AppriseSender(AppriseChannel("ap", (f"json://127.0.0.1:{port}/notify",)))
        await sender.send(message, parts_done=0, mark_part=noop)
        with pytest.raises(PermanentDeliveryError):
            await AppriseSender(AppriseChannel("bad", ("nonsense://x",))).send(
                message, parts_done=0, mark_part=noop)
    assert len(bodies) == 1
    assert bodies[0]["title"] == message.subject
    assert bodies[0]["message"] == message.text.strip()  # Apprise trims the end


def test_message_id_is_stable_per_run_and_differs_between_runs_of_one_slot(
        message: Outgoing) -> None:
    again = outgoing(KEY, fixed_digest(), message.created)
    assert again.message_id("example.org") == message.message_id("example.org")
    # Same key fixed by another install (or after the index was reset): another message,
    # which a mailbox dropping duplicate Message-IDs must not swallow.
    other = outgoing(KEY, fixed_digest(), datetime(2023, 7, 20, 6, 0, 9, tzinfo=UTC))
    assert other.message_id("example.org") != message.message_id("example.org")
