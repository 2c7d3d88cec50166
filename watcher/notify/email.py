"""SMTP delivery: ``smtp://`` (plain), ``smtp+starttls://`` and ``smtps://`` (implicit TLS),
auth when the URL carries a user. smtplib runs in a worker thread: it is blocking, and a
digest is a handful of messages a day, not worth a second SMTP stack.

SMTP answers map to the outbox's two kinds of failure: 4xx, refused or dropped connections
and timeouts are transient; 5xx (and a certificate that does not verify) are permanent.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from watcher.config import EmailChannel
from watcher.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError
from watcher.notify.base import MarkPart
from watcher.notify.message import Outgoing, build_email, domain_of
from watcher.notify.redact import redact_url, scrub

log = logging.getLogger(__name__)

_DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


@dataclass(frozen=True)
class SmtpTarget:
    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None


def parse_smtp_url(url: str) -> SmtpTarget:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise PermanentDeliveryError(f"invalid SMTP URL {redact_url(url)}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise PermanentDeliveryError(
            f"SMTP URL must be smtp://, smtp+starttls:// or smtps://host, not {redact_url(url)}")
    return SmtpTarget(scheme=scheme, host=parts.hostname, port=port or _DEFAULT_PORTS[scheme],
                      username=unquote(parts.username) if parts.username else None,
                      password=unquote(parts.password) if parts.password else None)


def classify_smtp_code(code: int, text: str) -> DeliveryError:
    if 400 <= code < 500:
        return TransientDeliveryError(f"SMTP {code}: {text}")
    return PermanentDeliveryError(f"SMTP {code}: {text}")


def _login(smtp: smtplib.SMTP, username: str, password: str) -> None:
    try:
        smtp.login(username, password)
    except UnicodeEncodeError:
        # smtplib encodes credentials as ASCII. Its error quotes the whole AUTH string,
        # password included, so it must not travel on; and retrying cannot help.
        raise PermanentDeliveryError(
            "SMTP AUTH: smtplib sends only ASCII user names and passwords") from None


class EmailSender:
    """``ssl_context`` defaults to ``ssl.create_default_context()`` at each send: the system
    CAs (or ``SSL_CERT_FILE``), hostname checked. Callers pass one to trust a private CA;
    config has no switch that turns verification off."""

    def __init__(self, config: EmailChannel, *, timeout: float = 30.0,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.name = config.name
        self.config = config
        self.timeout = timeout
        self._ssl_context = ssl_context

    async def send(self, message: Outgoing, *, parts_done: int, mark_part: MarkPart) -> str:
        email = build_email(message, self.config.sender, self.config.to)
        try:
            await asyncio.to_thread(self._send_blocking, email.as_bytes())
        except DeliveryError as exc:
            raise type(exc)(scrub(str(exc), [self.config.smtp])) from None
        mark_part(1)
        return message.message_id(domain_of(self.config.sender))

    def _send_blocking(self, payload: bytes) -> None:
        target = parse_smtp_url(self.config.smtp)
        context = self._ssl_context or ssl.create_default_context()
        try:
            smtp: smtplib.SMTP
            if target.scheme == "smtps":
                smtp = smtplib.SMTP_SSL(target.host, target.port, timeout=self.timeout,
                                        context=context)
            else:
                smtp = smtplib.SMTP(target.host, target.port, timeout=self.timeout)
            with smtp:
                smtp.ehlo()
                if target.scheme == "smtp+starttls":
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if target.username:
                    _login(smtp, target.username, target.password or "")
                refused = smtp.sendmail(self.config.sender, list(self.config.to), payload)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _text in exc.recipients.values()]
            detail = "; ".join(f"{rcpt}: {code} {text.decode(errors='replace')}"
                               for rcpt, (code, text) in exc.recipients.items())
            if any(400 <= c < 500 for c in codes):
                raise TransientDeliveryError(f"recipients refused: {detail}") from None
            raise PermanentDeliveryError(f"recipients refused: {detail}") from None
        except smtplib.SMTPNotSupportedError as exc:
            raise PermanentDeliveryError(f"SMTP server does not support it: {exc}") from None
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode(errors="replace") if isinstance(
                exc.smtp_error, bytes) else str(exc.smtp_error)
            raise classify_smtp_code(exc.smtp_code, text) from None
        except ssl.SSLCertVerificationError as exc:
            # Retrying will not make a certificate valid: the user must fix the config.
            raise PermanentDeliveryError(f"TLS certificate of {target.host}: {exc}") from None
        except (smtplib.SMTPException, OSError) as exc:
            # Refused, reset, timed out, dropped mid-dialogue: the server may be back later.
            reason = str(exc) or type(exc).__name__
            raise TransientDeliveryError(
                f"SMTP {target.host}:{target.port} unreachable: {reason}") from None
        if refused:
            # Accepted for some recipients: the message went; say who did not get it.
            log.warning("channel %s: some recipients refused: %s", self.name,
                        ", ".join(sorted(refused)))
