"""Apprise: any of its URLs (Discord, Teams, Telegram, ntfy, ...) with the plain-text body.

Apprise reports only success or failure, not why: a failed notify is transient (the
outbox's attempt limit ends it); a URL Apprise does not understand is permanent.
"""

from __future__ import annotations

import apprise

from watcher.config import AppriseChannel
from watcher.errors import PermanentDeliveryError, TransientDeliveryError
from watcher.notify.base import MarkPart
from watcher.notify.message import Outgoing
from watcher.notify.redact import redact_url

MAX_BODY = 30_000  # most Apprise targets cap far lower and cut themselves; stay sane


class AppriseSender:
    def __init__(self, config: AppriseChannel) -> None:
        self.name = config.name
        self.config = config

    async def send(self, message: Outgoing, *, parts_done: int, mark_part: MarkPart) -> str:
        notifier = apprise.Apprise()
        for url in self.config.urls:
            if not notifier.add(url):
                raise PermanentDeliveryError(f"Apprise does not understand {redact_url(url)}")
        ok = await notifier.async_notify(body=message.text[:MAX_BODY], title=message.subject,
                                         body_format=apprise.NotifyFormat.TEXT)
        if not ok:
            raise TransientDeliveryError("Apprise could not notify every target")
        mark_part(1)
        return f"{len(self.config.urls)} target(s)"
