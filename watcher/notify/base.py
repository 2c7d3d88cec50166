"""The channel interface. A channel is chosen by its config type (``registry.py``); each one
turns an ``Outgoing`` into one or more deliveries to its peer, and says how it failed:
``TransientDeliveryError`` (retry later) or ``PermanentDeliveryError`` (stop, tell the user).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from watcher.notify.message import Outgoing

# Called with the number of parts the peer has accepted so far. A digest split into several
# Slack messages resumes after the last accepted part instead of repeating the first ones.
MarkPart = Callable[[int], None]


class Channel(Protocol):
    name: str

    async def send(self, message: Outgoing, *, parts_done: int, mark_part: MarkPart) -> str:
        """Deliver ``message``; return an id for the record (Message-ID, file stem, ...)."""
        ...
