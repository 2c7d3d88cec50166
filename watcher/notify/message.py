"""What a channel sends: one rendered digest or alert with its identity. Pure.

The Message-ID is derived from the outbox run (its key and the time it was fixed), so a
resend after a crash carries the same one (receivers and our own tests can tell a duplicate
from a second message). The key alone is not enough: two installs, or one whose index was
reset, fix the same key ("digest:morning@<slot>") for different digests, and a mailbox that
drops duplicate Message-IDs (Gmail does) would silently lose the second one.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from watcher.digest import Digest, Omission, omission_note, render_all


@dataclass(frozen=True)
class Outgoing:
    key: str  # the outbox run key, e.g. "digest:morning@2023-07-20T06:00:00+00:00"
    digest: Digest
    created: datetime
    subject: str
    text: str
    html: str
    slack: tuple[dict[str, object], ...]
    omitted: tuple[Omission, ...] = ()  # items left out of a channel's rendering

    @property
    def note(self) -> str:
        """What the outbox shows beside a sent delivery: the items it had to leave out."""
        return omission_note(self.omitted)

    @property
    def token(self) -> str:
        """Stable for one run (both are stored with it), distinct between runs."""
        run = f"{self.key}\n{self.created.isoformat()}"
        return hashlib.sha256(run.encode("utf-8")).hexdigest()[:32]

    def message_id(self, domain: str) -> str:
        return f"<{self.token}.{self.digest.kind}@{domain}>"


def outgoing(key: str, digest: Digest, created: datetime) -> Outgoing:
    rendered = render_all(digest)
    return Outgoing(key=key, digest=digest, created=created, subject=rendered.subject,
                    text=rendered.text, html=rendered.html, slack=rendered.slack,
                    omitted=rendered.omitted)


def header_safe(value: str) -> str:
    """No CR, LF or other control character may reach a header, whatever a feed sent."""
    return " ".join("".join(c if c.isprintable() else " " for c in value).split())


def domain_of(address: str) -> str:
    domain = address.rpartition("@")[2].strip(" >")
    return header_safe(domain) or "watcher.localhost"


def list_id(digest: Digest, domain: str) -> str:
    """RFC 2919: one list per digest (or per rule's alerts), so a mailbox can file, filter
    and mute each: ``"watcher digest morning" <morning.digest.watcher.example.org>``."""
    label = re.sub(r"[^a-z0-9-]+", "-", digest.name.lower()).strip("-") or "digest"
    host = re.sub(r"[^A-Za-z0-9.-]+", "-", domain).strip(".-") or "watcher.localhost"
    phrase = header_safe(f"watcher {digest.kind} {digest.name}").replace('"', "'")
    return f'"{phrase}" <{label[:60]}.{digest.kind}.watcher.{host}>'


def build_email(message: Outgoing, sender: str, to: tuple[str, ...]) -> EmailMessage:
    """multipart/alternative: the plain-text part first, HTML preferred by capable readers."""
    email = EmailMessage(policy=SMTP)
    email["Subject"] = header_safe(message.subject)
    email["From"] = header_safe(sender)
    email["To"] = ", ".join(header_safe(a) for a in to)
    email["Date"] = format_datetime(message.created)
    email["Message-ID"] = message.message_id(domain_of(sender))
    email["X-Watcher-Run"] = header_safe(message.key)
    email["List-Id"] = list_id(message.digest, domain_of(sender))
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies
    # Exchange and Outlook ignore Auto-Submitted; this stops their out-of-office replies.
    email["X-Auto-Response-Suppress"] = "All"
    email.set_content(message.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    email.add_alternative(message.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return email
