"""``watcher feeds import``, ``watcher feeds export`` and ``watcher feeds add``: bring feeds
in from other readers or from a site's address, and take them out again.

``watcher feeds`` alone (the status table) stays in ``cli/core.py``; this module hangs its
sub-commands under that parser.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from watcher.cli.common import config_from_args
from watcher.config import Config, FeedConfig, resolve_config_path
from watcher.errors import ConfigError, Problem
from watcher.feeds.opml import ExportedFeed, names_for, read_opml, write_opml
from watcher.feeds.yaml_edit import add_feeds
from watcher.urls import canonical_url

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
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


def _existing(config: Config) -> dict[str, FeedConfig]:
    return {canonical_url(feed.url): feed for feed in config.feeds}


def cmd_import(args: argparse.Namespace) -> int:
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
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
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
    return EXIT_OK
