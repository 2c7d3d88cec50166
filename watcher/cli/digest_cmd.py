"""``watcher digest preview|send`` and ``watcher outbox``: thin commands over
``watcher.notify.service.DeliveryService`` and the outbox."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from watcher.cli.common import add_command, config_from_args
from watcher.cli.exit_codes import ExitCode
from watcher.cli.output import shorten, table, when
from watcher.config import Config


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    digest = add_command(subparsers, common, "digest", None, help="preview or send a digest",
                         description="Preview a digest without sending it, or send it now.")
    actions = digest.add_subparsers(dest="digest_command", metavar="ACTION", required=True)

    preview = _digest_action(
        actions, common, "preview", cmd_preview,
        help="render a digest; send and mark nothing",
        description="Print the digest that would be sent now as plain text. Example: "
                    "watcher digest preview morning --html /tmp/morning.html")
    preview.add_argument("--html", metavar="FILE", type=Path, help="also write the HTML here")
    preview.add_argument("--slack", metavar="FILE", type=Path,
                         help="also write the Slack payloads (JSON) here")

    send = _digest_action(
        actions, common, "send", cmd_send,
        help="send a digest now (once per scheduled slot)",
        description="Build, fix and deliver the digest of the current scheduled slot. "
                    "Run again, it sends nothing new. Example: watcher digest send morning")
    send.add_argument("--force", action="store_true",
                      help="an extra run now, with what matched since the last run")

    outbox = add_command(
        subparsers, common, "outbox", cmd_outbox, help="deliveries and their state",
        description="List digest and alert deliveries per channel: pending, sending, sent, "
                    "failed (with the reason). Example: watcher outbox --failed")
    outbox.add_argument("--failed", action="store_true", help="only failed deliveries")
    outbox.add_argument("--limit", type=int, default=50, help="rows to show (default 50)")
    outbox.add_argument("--retry", metavar="ID", type=int, nargs="+",
                        help="put failed deliveries back in the queue")


def _digest_action(actions: Any, common: argparse.ArgumentParser, name: str,
                   handler: Callable[[argparse.Namespace], int], *, help: str,
                   description: str) -> argparse.ArgumentParser:
    """``digest preview`` / ``digest send``: both take an optional digest NAME."""
    parser = add_command(actions, common, name, handler, help=help, description=description)
    parser.add_argument("name", nargs="?", help="digest name (default: the first one)")
    return parser


def _service(config: Config, store: Any, client: Any) -> Any:
    from watcher.checks import load_rules_for
    from watcher.notify.service import DeliveryService

    rules = load_rules_for(config)
    return DeliveryService(config, store, client, lambda: rules)


def cmd_preview(args: argparse.Namespace) -> int:
    from watcher.store import Store

    config = config_from_args(args)
    with Store.open(config) as store:
        # No client is used: preview renders only.
        rendered = _service(config, store, None).preview(args.name, datetime.now(UTC))
    print(rendered.text)
    if args.html:
        args.html.write_text(rendered.html, encoding="utf-8")
    if args.slack:
        args.slack.write_text(json.dumps(rendered.slack, indent=2, ensure_ascii=False),
                              encoding="utf-8")
    return ExitCode.OK


def cmd_send(args: argparse.Namespace) -> int:
    from watcher.digest.present import plural
    from watcher.store import Store

    config = config_from_args(args)
    with Store.open(config) as store:
        result = asyncio.run(_send(config, store, args.name, args.force))
    if result.skipped:
        print(f"{result.key}: not sent: {result.skipped}")
        return ExitCode.OK
    print(f"{result.key}: {plural(result.items, 'item')}"
          + ("" if result.created else " (already built; nothing new)"))
    for delivery in result.deliveries:
        error = f" ({delivery.error})" if delivery.error else ""
        print(f"  {delivery.channel}: {delivery.state}, {delivery.attempts} attempt(s){error}")
    return (ExitCode.FAILED if any(d.state == "failed" for d in result.deliveries)
            else ExitCode.OK)


async def _send(config: Config, store: Any, name: str | None, force: bool) -> Any:
    from watcher.fetch import build_client

    async with build_client(config.network) as client:
        service = _service(config, store, client)
        digest = service.digest_config(name).name
        return await service.run_digest(digest, datetime.now(UTC), force=force)


def cmd_outbox(args: argparse.Namespace) -> int:
    from watcher.digest.present import plural
    from watcher.store import Store

    config = config_from_args(args)
    now = datetime.now(UTC)
    with Store.open(config) as store:
        outbox = store.outbox
        if args.retry:
            count = outbox.requeue(args.retry, now)
            print(f"{plural(count, 'failed delivery')} queued again; sent at the next retry "
                  "tick" + (f" ({len(set(args.retry)) - count} of the IDs given are not "
                            "failed deliveries)" if count < len(set(args.retry)) else ""))
        rows = outbox.deliveries(states=["failed"] if args.failed else None,
                                 limit=args.limit)
    if not rows:
        print("no failed deliveries" if args.failed else "no deliveries yet")
        return ExitCode.OK
    print(table(["ID", "RUN", "CHANNEL", "STATE", "TRIES", "WHEN", "ERROR / ID"], [
        [str(d.id), d.run_key, d.channel, d.state, str(d.attempts),
         when(d.sent_at if d.state == "sent" else
              d.next_attempt if d.state == "pending" else d.updated, now),
         shorten(d.sent_id if d.state == "sent" else d.last_error, 60)]
        for d in rows]))
    return ExitCode.OK
