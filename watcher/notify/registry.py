"""Config type -> channel implementation. Adding a channel is one entry here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from watcher.config import AppriseChannel, ChannelConfig, EmailChannel, FileChannel, SlackChannel
from watcher.notify.apprise_channel import AppriseSender
from watcher.notify.base import Channel
from watcher.notify.email import EmailSender
from watcher.notify.files import FileSender
from watcher.notify.slack import SlackSender

Factory = Callable[[Any, httpx.AsyncClient], Channel]

CHANNEL_TYPES: dict[type, Factory] = {
    EmailChannel: lambda config, _client: EmailSender(config),
    SlackChannel: lambda config, client: SlackSender(config, client),
    FileChannel: lambda config, _client: FileSender(config),
    AppriseChannel: lambda config, _client: AppriseSender(config),
}


def make_channel(config: ChannelConfig, client: httpx.AsyncClient) -> Channel:
    return CHANNEL_TYPES[type(config)](config, client)
