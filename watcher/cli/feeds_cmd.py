"""``watcher feeds import``, ``watcher feeds export`` and ``watcher feeds add``: bring feeds
in from other readers or from a site's address, and take them out again.

``watcher feeds`` alone (the status table) stays in ``cli/core.py``; this module hangs its
sub-commands under that parser.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from watcher.cli.common import config_from_args
from watcher.cli.exit_codes import ExitCode
from watcher.config import Config, FeedConfig, parse_duration, resolve_config_path
from watcher.errors import ConfigError, Problem
from watcher.urls import canonical_url, is_http_url

if TYPE_CHECKING:
    from watcher.feeds.discover import Candidate, Discovery

MAX_OPML_BYTES = 16 * 1024 * 1024


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    feeds: argparse.ArgumentParser = subparsers.choices["feeds"]
    commands = feeds.add_subparsers(dest="feeds_command", metavar="COMMAND")

    imported = commands.add_parser(
        "import", parents=[common], help="add the feeds of an OPML file to watcher.yaml",
        description="Add every feed of an OPML 1.0/2.0 file (exported by Miniflux, FreshRSS, "
                    "Feedly, ...) to watcher.yaml, keeping its comments; folders and "
                    "categories become tags; feeds already there (same canonical URL) are "
                    "reported, not added twice. Example: watcher feeds import subs.opml")
    imported.add_argument("file", metavar="FILE.opml", type=Path)
    imported.set_defaults(handler=cmd_import)

    exported = commands.add_parser(
        "export", parents=[common], help="write the feeds as OPML 2.0",
        description="Write every feed of watcher.yaml as OPML 2.0 (folders from the first "
                    "tag), for Miniflux, FreshRSS or Feedly. Example: watcher feeds export "
                    "--output feeds.opml")
    exported.add_argument("--output", metavar="FILE", type=Path,
                          help="write to FILE instead of standard output")
    exported.set_defaults(handler=cmd_export)

    add = commands.add_parser(
        "add", parents=[common], help="find a site's feed from its address and add it",
        description="URL may be a feed, a site's home page or one of its articles: the feed "
                    "is found (the URL itself, the page's <link rel=alternate>, well-known "
                    "paths, a news sitemap in robots.txt), shown, and added to watcher.yaml "
                    "keeping its comments. Example: watcher feeds add https://example.org/ "
                    "--interval 5m")
    add.add_argument("url", metavar="URL")
    add.add_argument("--name", metavar="N", help="the feed's name (default: from its title)")
    add.add_argument("--interval", metavar="DURATION",
                     help="poll interval, e.g. 5m, or auto (default: poll.interval)")
    add.add_argument("--print", action="store_true", dest="print_only",
                     help="only print the YAML to add, do not change watcher.yaml")
    add.add_argument("--all", action="store_true", dest="add_all",
                     help="with several feeds found, add them all without asking")
    add.set_defaults(handler=cmd_add)


def _existing(config: Config) -> dict[str, FeedConfig]:
    return {canonical_url(feed.url): feed for feed in config.feeds}


def cmd_import(args: argparse.Namespace) -> int:
    from watcher.feeds.opml import names_for, read_opml
    from watcher.feeds.yaml_edit import add_feeds

    path = resolve_config_path(args.config)
    config = config_from_args(args)
    source = str(args.file)
    try:
        if args.file.stat().st_size > MAX_OPML_BYTES:
            raise ConfigError([Problem(source, 1, 0, f"larger than {MAX_OPML_BYTES:,} bytes; "
                                                     "refused")])
        content = args.file.read_bytes()
    except OSError as exc:
        raise ConfigError([Problem(source, 0, 0, f"cannot read: {exc.strerror}")]) from None
    found = read_opml(content, source)
    known = _existing(config)
    additions = []
    seen: set[str] = set()
    for feed in found:
        key = canonical_url(feed.url)
        if key in known:
            print(f"already present: {known[key].name} ({feed.url})")
        elif key not in seen:
            seen.add(key)
            additions.append(feed)
    names = names_for([feed.title for feed in additions], (f.name for f in config.feeds))
    entries = [{"name": name, "url": feed.url, "tags": list(feed.tags)}
               for name, feed in zip(names, additions, strict=True)]
    if entries:
        add_feeds(path, entries)
    for entry in entries:
        tags = f" [{', '.join(entry['tags'])}]" if entry["tags"] else ""
        print(f"added: {entry['name']} {entry['url']}{tags}")
    print(f"{len(entries)} added, {len(found) - len(entries)} already present or repeated; "
          f"{path}")
    return ExitCode.OK


def cmd_add(args: argparse.Namespace) -> int:
    from watcher.feeds.opml import names_for
    from watcher.feeds.yaml_edit import add_feeds, feeds_yaml

    path = resolve_config_path(args.config)
    config = config_from_args(args)
    if args.interval and args.interval.strip().lower() != "auto":
        try:
            parse_duration(args.interval)
        except ValueError as exc:
            raise ConfigError([Problem("--interval", 1, 0, str(exc))]) from None
    if not is_http_url(args.url):
        raise ConfigError([Problem("URL", 1, 0, f"'{args.url}' is not an http(s) URL")])
    discovery = asyncio.run(_discover(config, args.url))
    if not discovery.candidates:
        print(f"no feed found for {args.url}; tried:", file=sys.stderr)
        for note in discovery.notes:
            print(f"  {note}", file=sys.stderr)
        return ExitCode.FAILED
    for number, candidate in enumerate(discovery.candidates, 1):
        print(f"{number}. {_shown(candidate)}")
    chosen = _choose(discovery.candidates, args.add_all)
    if not chosen:
        print("nothing added", file=sys.stderr)
        return ExitCode.FAILED
    known = _existing(config)
    fresh = []
    for candidate in chosen:
        present = known.get(canonical_url(candidate.url))
        if present is not None:
            print(f"already present: {present.name} ({candidate.url})")
        else:
            fresh.append(candidate)
    if not fresh:
        return ExitCode.OK
    titles = [args.name or c.title or urlsplit(c.url).hostname or "" for c in fresh]
    names = names_for(titles, (f.name for f in config.feeds))
    if args.name and names[0] != args.name:
        raise ConfigError([Problem(str(path), 1, 0, f"a feed named '{args.name}' exists")])
    entries = [{"name": name, "type": "sitemap" if c.config_type == "sitemap" else None,
                "url": c.url, "interval": args.interval}
               for name, c in zip(names, fresh, strict=True)]
    if args.print_only:
        sys.stdout.write(feeds_yaml(entries))
        return ExitCode.OK
    add_feeds(path, entries)
    for entry in entries:
        print(f"added: {entry['name']} {entry['url']} to {path}")
    return ExitCode.OK


async def _discover(config: Config, url: str) -> Discovery:
    from watcher.feeds.discover import discover
    from watcher.fetch import Fetcher, build_client

    async with build_client(config.network) as client:
        return await discover(Fetcher(client, config.network), url,
                              max_bytes=config.network.max_feed_bytes)


def _shown(candidate: Candidate) -> str:
    newest = candidate.newest.strftime("%Y-%m-%d %H:%M UTC") if candidate.newest else "-"
    title = candidate.title or "(no title)"
    return (f"{candidate.kind:<7} {candidate.url}\n   {title!r}: {candidate.entries} entries, "
            f"newest {newest} ({candidate.how})")


def _choose(candidates: Sequence[Candidate], add_all: bool) -> list[Candidate]:
    if len(candidates) == 1 or add_all:
        return list(candidates)
    print("several feeds found: which to add? (numbers, e.g. 1 3; 'all'; empty for none) ",
          end="", flush=True)
    answer = sys.stdin.readline().strip().lower()
    if answer == "all":
        return list(candidates)
    picked: list[Candidate] = []
    for word in answer.replace(",", " ").split():
        if not word.isdigit() or not 1 <= int(word) <= len(candidates):
            raise ConfigError([Problem("answer", 1, 0, f"'{word}' is not one of 1 to "
                                                       f"{len(candidates)}")])
        if candidates[int(word) - 1] not in picked:
            picked.append(candidates[int(word) - 1])
    return picked


def cmd_export(args: argparse.Namespace) -> int:
    from watcher.feeds.opml import ExportedFeed, write_opml

    config = config_from_args(args)
    feeds = [ExportedFeed(feed.name, feed.url, feed.tags)
             for feed in config.feeds if feed.kind == "feed"]
    skipped = [feed.name for feed in config.feeds if feed.kind != "feed"]
    text = write_opml(feeds, "watcher feeds", datetime.now(UTC))
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    if skipped:
        print(f"note: sitemap feeds are not written (other readers cannot read them): "
              f"{', '.join(skipped)}", file=sys.stderr)
    return ExitCode.OK
