"""Config type -> channel implementation. Adding a channel is one entry here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from watcher.clock import Clock, system_clock
from watcher.config import AppriseChannel, ChannelConfig, EmailChannel, FileChannel, SlackChannel
from watcher.notify.base import Channel
from watcher.notify.email import EmailSender
from watcher.notify.files import FileSender
from watcher.notify.slack import SlackSender

Factory = Callable[[Any, httpx.AsyncClient, Clock], Channel]


def _apprise(config: AppriseChannel, _client: httpx.AsyncClient, _clock: Clock) -> Channel:
    # Imported here: Apprise loads its plugins on import, which every watcher that sends
    # no Apprise notification would wait for at start.
    from watcher.notify.apprise_channel import AppriseSender

    return AppriseSender(config)


CHANNEL_TYPES: dict[type, Factory] = {
    EmailChannel: lambda config, _client, _clock: EmailSender(config),
    SlackChannel: lambda config, client, clock: SlackSender(config, client, clock=clock),
    FileChannel: lambda config, _client, _clock: FileSender(config),
    AppriseChannel: _apprise,
}


def make_channel(config: ChannelConfig, client: httpx.AsyncClient, *,
                 clock: Clock = system_clock) -> Channel:
    return CHANNEL_TYPES[type(config)](config, client, clock)
