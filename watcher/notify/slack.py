"""Slack incoming webhooks: one POST per message part (a long digest is several parts).

Answers: 2xx accepted; 429 waits for Retry-After (in place when short, otherwise the outbox
retries at that time); 5xx and network errors are transient; 404/410 (webhook deleted) and
other 4xx (invalid payload, archived channel) are permanent.
"""

from __future__ import annotations

import asyncio
import email.utils
from datetime import UTC, datetime

import httpx

from watcher.clock import Clock, system_clock
from watcher.config import SlackChannel
from watcher.errors import BlockedAddressError, PermanentDeliveryError, TransientDeliveryError
from watcher.notify.base import MarkPart
from watcher.notify.message import Outgoing
from watcher.notify.redact import scrub

MAX_INLINE_WAIT = 60.0  # seconds of Retry-After waited in place; longer goes to the outbox
MAX_INLINE_RETRIES = 3


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class SlackSender:
    def __init__(self, config: SlackChannel, client: httpx.AsyncClient, *,
                 max_inline_wait: float = MAX_INLINE_WAIT, clock: Clock = system_clock) -> None:
        self.name = config.name
        self.config = config
        self.client = client
        self.max_inline_wait = max_inline_wait
        self.clock = clock  # for a Retry-After given as a date

    async def send(self, message: Outgoing, *, parts_done: int, mark_part: MarkPart) -> str:
        for index in range(parts_done, len(message.slack)):
            await self._post(message.slack[index])
            mark_part(index + 1)
        return f"{len(message.slack)} message(s)"

    async def _post(self, payload: dict[str, object]) -> None:
        for _attempt in range(MAX_INLINE_RETRIES + 1):
            try:
                response = await self.client.post(self.config.webhook, json=payload)
            except BlockedAddressError as exc:
                raise PermanentDeliveryError(
                    scrub(f"webhook refused by the network guard: {exc}",
                          [self.config.webhook])) from None
            except httpx.HTTPError as exc:
                reason = scrub(str(exc) or type(exc).__name__, [self.config.webhook])
                raise TransientDeliveryError(f"webhook unreachable: {reason}") from None
            status = response.status_code
            if 200 <= status < 300:
                return
            detail = scrub(response.text[:200].strip(), [self.config.webhook])
            if status == 429:
                wait = parse_retry_after(response.headers.get("retry-after"), self.clock())
                wait = 1.0 if wait is None else wait
                if wait <= self.max_inline_wait:
                    await asyncio.sleep(wait)
                    continue
                raise TransientDeliveryError("rate limited by Slack (429)", retry_after=wait)
            if status >= 500 or status == 408:
                raise TransientDeliveryError(f"webhook answered {status}: {detail}")
            raise PermanentDeliveryError(f"webhook answered {status}: {detail}")
        raise TransientDeliveryError("rate limited by Slack (429), retries used up")
