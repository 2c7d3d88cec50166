"""The email channel over TLS against a real aiosmtpd on 127.0.0.1: STARTTLS and implicit TLS,
SMTP AUTH (LOGIN and PLAIN), wrong and unsendable passwords, and certificates that do not
verify. The CA and certificates come from the session ``pki`` fixture (conftest.py); the
channel trusts that CA only when told to (``ssl_context=`` or ``SSL_CERT_FILE``)."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.digest.fixtures import fixed_digest
from tests.notify.conftest import TestPKI
from tests.notify.helpers import T0, add_article, config, service
from tests.notify.peers import ScriptedHandler
from tests.support.local import free_port
from watcher.config import EmailChannel
from watcher.errors import DeliveryError, PermanentDeliveryError
from watcher.notify.email import EmailSender
from watcher.notify.message import Outgoing, outgoing
from watcher.store import Store

KEY = "digest:morning@2023-07-20T06:00:00+00:00"
USER = "analyst@example.org"
# Every character that must be percent-encoded in a URL's password, and "%" itself.
PASSWORD = "p@ss:w/rd?#[]%20 ok"
Mode = Literal["starttls", "smtps"]

# aiosmtpd counts only STARTTLS as TLS, so an implicit-TLS server that requires AUTH warns.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Requiring AUTH while not requiring TLS:UserWarning")


@pytest.fixture(scope="module")
def message() -> Outgoing:
    return outgoing(KEY, fixed_digest(), datetime(2023, 7, 20, 6, 0, 5, tzinfo=UTC))


def noop(_n: int) -> None:
    pass


def tls_of(server: Any) -> bool:
    """Whether this aiosmtpd session runs over TLS, for implicit TLS and after STARTTLS."""
    return server.transport.get_extra_info("ssl_object") is not None


@dataclass
class Authenticator:
    """Accepts ``USER``/``PASSWORD``; records every attempt and whether it came over TLS."""

    password: str = PASSWORD
    attempts: list[tuple[str, str, str, bool]] = field(default_factory=list)

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str,
                 data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        login, password = data.login.decode(), data.password.decode()
        self.attempts.append((mechanism, login, password, tls_of(server)))
        ok = (login, password) == (USER, self.password)
        # handled=False: aiosmtpd then answers 535 itself (the default would answer nothing).
        return AuthResult(success=ok, handled=ok, auth_data=data if ok else None)


class TLSHandler(ScriptedHandler):
    def __init__(self) -> None:
        super().__init__()
        self.over_tls: list[bool] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.over_tls.append(tls_of(server))
        return await super().handle_DATA(server, session, envelope)


@dataclass
class Peer:
    handler: TLSHandler
    auth: Authenticator
    port: int

    def url(self, scheme: str, password: str | None = PASSWORD) -> str:
        cred = f"{quote(USER, safe='')}:{quote(password, safe='')}@" if password else ""
        return f"{scheme}://{cred}127.0.0.1:{self.port}"


@contextmanager
def tls_smtp_server(pki: TestPKI, mode: Mode, *, cert: Path | None = None,
                    key: Path | None = None, mechanisms: tuple[str, ...] = ("LOGIN", "PLAIN"),
                    password: str = PASSWORD, auth_required: bool = True) -> Iterator[Peer]:
    """STARTTLS mode refuses MAIL (and AUTH) before STARTTLS; ``auth_required`` refuses MAIL
    before AUTH."""
    handler, auth = TLSHandler(), Authenticator(password)
    context = pki.server_context(cert, key)
    tls: dict[str, Any] = ({"tls_context": context, "require_starttls": True}
                           if mode == "starttls" else
                           {"ssl_context": context, "auth_require_tls": False})
    controller = Controller(
        handler, hostname="127.0.0.1", port=free_port(), auth_required=auth_required,
        authenticator=auth, auth_exclude_mechanism=[m for m in ("LOGIN", "PLAIN")
                                                    if m not in mechanisms], **tls)
    controller.start()
    try:
        yield Peer(handler, auth, controller.port)
    finally:
        controller.stop()


def email_channel(url: str) -> EmailChannel:
    return EmailChannel(name="mail", smtp=url, sender="watcher@example.org",
                        to=("analyst@example.org", "desk@example.org"))


def sender(url: str, context: ssl.SSLContext | None) -> EmailSender:
    return EmailSender(email_channel(url), timeout=5, ssl_context=context)


def assert_secret_free(text: str, password: str = PASSWORD) -> None:
    for form in (password, quote(password, safe="")):
        assert form not in text


def assert_one_digest(peer: Peer, message: Outgoing, message_id: str) -> None:
    assert len(peer.handler.messages) == 1 and peer.handler.over_tls == [True]
    mail = peer.handler.messages[0]
    assert peer.handler.envelopes == [
        ("watcher@example.org", ["analyst@example.org", "desk@example.org"])]
    assert mail["Subject"] == "[watcher] morning: 3 articles, 2 rules, 1 feed notice"
    assert mail["From"] == "watcher@example.org"
    assert mail["To"] == "analyst@example.org, desk@example.org"
    assert mail["Message-ID"] == message_id == message.message_id("example.org")
    assert mail["Date"] == "Thu, 20 Jul 2023 06:00:05 +0000"
    assert mail["Bcc"] is None
    assert mail.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in mail.iter_parts()] == ["text/plain", "text/html"]
    assert "MI6" in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]


@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN"])
async def test_starttls_with_auth_delivers_once(
        pki: TestPKI, message: Outgoing, mechanism: str) -> None:
    with tls_smtp_server(pki, "starttls", mechanisms=(mechanism,)) as peer:
        url = peer.url("smtp+starttls")
        assert "%40" in url and "%2F" in url and "%25" in url
        message_id = await sender(url, pki.client_context()).send(
            message, parts_done=0, mark_part=noop)
    # One attempt, with the mechanism offered, the decoded credentials, inside TLS.
    assert peer.auth.attempts == [(mechanism, USER, PASSWORD, True)]
    assert_one_digest(peer, message, message_id)


@pytest.mark.parametrize("with_auth", [True, False], ids=["auth", "no-auth"])
async def test_implicit_tls_delivers_once(
        pki: TestPKI, message: Outgoing, with_auth: bool) -> None:
    with tls_smtp_server(pki, "smtps", auth_required=with_auth) as peer:
        message_id = await sender(
            peer.url("smtps", PASSWORD if with_auth else None), pki.client_context()).send(
                message, parts_done=0, mark_part=noop)
    # smtplib prefers PLAIN when both are offered.
    assert peer.auth.attempts == ([("PLAIN", USER, PASSWORD, True)] if with_auth else [])
    assert_one_digest(peer, message, message_id)


async def test_trusting_a_private_ca_through_ssl_cert_file(
        pki: TestPKI, message: Outgoing, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped path (no context passed) verifies against the standard OpenSSL setting."""
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca))
    with tls_smtp_server(pki, "starttls") as peer:
        message_id = await sender(peer.url("smtp+starttls"), None).send(
            message, parts_done=0, mark_part=noop)
    assert_one_digest(peer, message, message_id)


@pytest.mark.parametrize("mode", ["starttls", "smtps"])
async def test_wrong_password_fails_for_good_without_showing_it(
        pki: TestPKI, message: Outgoing, mode: Mode, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with tls_smtp_server(pki, mode, password="the-right-one") as peer:
        channel = sender(peer.url("smtp+starttls" if mode == "starttls" else "smtps"),
                         pki.client_context())
        with pytest.raises(PermanentDeliveryError) as info:
            await channel.send(message, parts_done=0, mark_part=noop)
    reason = str(info.value)
    assert reason == "SMTP 535: 5.7.8 Authentication credentials invalid"
    assert_secret_free(reason)
    assert_secret_free(caplog.text)
    # smtplib tries each offered mechanism once; every try was inside TLS; nothing was sent.
    assert sorted(m for m, *_ in peer.auth.attempts) == ["LOGIN", "PLAIN"]
    assert all(tls for *_, tls in peer.auth.attempts)
    assert peer.handler.attempts == 0


async def test_non_ascii_password_fails_for_good_without_showing_it(
        pki: TestPKI, message: Outgoing) -> None:
    """smtplib cannot send it; its own error would quote the password."""
    password = "pässwörd"
    with (tls_smtp_server(pki, "starttls", password=password) as peer,
          pytest.raises(PermanentDeliveryError, match="ASCII") as info):
        await sender(peer.url("smtp+starttls", password), pki.client_context()).send(
            message, parts_done=0, mark_part=noop)
    assert_secret_free(str(info.value), password)
    assert peer.auth.attempts == [] and peer.handler.attempts == 0


@pytest.mark.parametrize("mode", ["starttls", "smtps"])
@pytest.mark.parametrize("case", ["self-signed", "wrong-name"])
async def test_certificate_that_does_not_verify_is_permanent(
        pki: TestPKI, message: Outgoing, mode: Mode, case: str) -> None:
    """self-signed: the default context (system CAs) meets a certificate nobody signed.
    wrong-name: the CA is trusted, but the certificate names another host."""
    cert, key = ((pki.stranger_cert, pki.stranger_key) if case == "self-signed"
                 else (pki.wrong_name_cert, pki.wrong_name_key))
    context = None if case == "self-signed" else pki.client_context()
    with tls_smtp_server(pki, mode, cert=cert, key=key) as peer:
        url = peer.url("smtp+starttls" if mode == "starttls" else "smtps")
        with pytest.raises(PermanentDeliveryError) as info:
            await sender(url, context).send(message, parts_done=0, mark_part=noop)
    expected = "self-signed certificate" if case == "self-signed" else "IP address mismatch"
    assert str(info.value).startswith("TLS certificate of 127.0.0.1:")
    assert expected in str(info.value)
    assert_secret_free(str(info.value))
    # No fallback to plain text: the password never left, nothing was delivered.
    assert peer.auth.attempts == [] and peer.handler.attempts == 0


async def test_starttls_url_against_a_server_without_starttls_is_not_downgraded(
        message: Outgoing) -> None:
    """A server (or a man in the middle) that strips STARTTLS and offers AUTH in clear."""
    handler, auth = TLSHandler(), Authenticator()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(),
                            authenticator=auth, auth_require_tls=False)
    controller.start()
    try:
        url = Peer(handler, auth, controller.port).url("smtp+starttls")
        with pytest.raises(PermanentDeliveryError, match="STARTTLS"):
            await sender(url, None).send(message, parts_done=0, mark_part=noop)
    finally:
        controller.stop()
    assert auth.attempts == [] and handler.attempts == 0


async def test_smtps_url_against_a_plain_server_sends_nothing(message: Outgoing) -> None:
    handler, auth = TLSHandler(), Authenticator()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(),
                            authenticator=auth, auth_require_tls=False)
    controller.start()
    try:
        url = Peer(handler, auth, controller.port).url("smtps")
        with pytest.raises(DeliveryError) as info:
            await sender(url, None).send(message, parts_done=0, mark_part=noop)
    finally:
        controller.stop()
    assert_secret_free(str(info.value))
    assert auth.attempts == [] and handler.attempts == 0


@pytest.mark.parametrize(("password", "reason"), [("Wr0ng-s3cret", "535"), ("pässwörd", "ASCII")],
                         ids=["wrong", "non-ascii"])
async def test_outbox_shows_auth_failure_once_and_never_the_password(
        tmp_path: Path, store: Store, client: httpx.AsyncClient, pki: TestPKI,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        password: str, reason: str) -> None:
    """Through the service (channels built from config): failed for good at the first
    attempt, the reason shown, the password in neither the outbox nor the log."""
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca))
    add_article(store, 1, "MI6 chief speaks", "The MI6 chief urged Russians to defect.",
                when=T0 - timedelta(hours=2))
    with tls_smtp_server(pki, "starttls", password="the-right-one") as peer:
        channel = EmailChannel(name="mail", smtp=peer.url("smtp+starttls", password),
                               sender="watcher@example.org", to=("analyst@example.org",))
        svc = service(config(tmp_path, [channel]), store, client)
        await svc.run_digest("morning", T0)
        await svc.deliver_pending(T0 + timedelta(hours=1))
    (row,) = store.outbox.deliveries()
    assert row.state == "failed" and row.attempts == 1
    assert reason in (row.last_error or "")
    for text in (row.last_error or "", caplog.text):
        assert_secret_free(text, password)
    assert peer.handler.attempts == 0
