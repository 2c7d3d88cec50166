"""``watcher rules test`` and ``watcher rules backfill``: try a rule on the archive, and
record a new rule's matches on recent articles so they go into the next digest."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from watcher.cli.common import config_from_args as _config
from watcher.cli.exit_codes import ExitCode
from watcher.cli.output import table
from watcher.config import Config, did_you_mean, parse_duration
from watcher.errors import ConfigError, Problem
from watcher.textsafe import flatten, one_line

if TYPE_CHECKING:
    from watcher.rules import Rule
    from watcher.types import StoredArticle

ANSI_MARK, ANSI_TITLE, ANSI_RESET = "\x1b[1;33m", "\x1b[1m", "\x1b[0m"


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    rules = subparsers.add_parser(
        "rules", parents=[common], help="test a query or rule on recent articles; backfill",
        description="Tools for rule authors. The archive keeps the text of recent articles "
                    "(keep_text in watcher.yaml), so rules can be tried before saving them.")
    commands = rules.add_subparsers(dest="rules_command", metavar="COMMAND", required=True)

    test = commands.add_parser(
        "test", parents=[common], help="show which recent articles a query or rule matches",
        description="Run a query (or the rule of that name) on recent articles: hits newest "
                    "first with the matching sentence, then a count per feed. "
                    "Example: watcher rules test 'MI6 AND defect*' --since 3d")
    test.add_argument("target", metavar="QUERY-OR-RULE",
                      help="a query, or the name of a rule in rules.yaml")
    test.add_argument("--since", default="7d", type=parse_duration,
                      help="how far back to look (default 7d)")
    test.add_argument("--feed", metavar="GLOB", help="only feeds whose name fits the glob")
    test.add_argument("--limit", type=int, default=20, metavar="N",
                      help="show at most N hits (all are counted; default 20)")
    test.add_argument("--explain", action="store_true",
                      help="show, per hit, which parts of the query matched where")
    test.set_defaults(handler=cmd_test)

    backfill = commands.add_parser(
        "backfill", parents=[common], help="record a rule's matches on recent articles",
        description="Match one rule against recent articles and record the matches, so they "
                    "go into the next digest (no immediate alerts are sent for them). "
                    "Example: watcher rules backfill wagner --since 3d")
    backfill.add_argument("rule", help="the rule's name in rules.yaml")
    backfill.add_argument("--since", default="7d", type=parse_duration,
                          help="how far back to look (default 7d)")
    backfill.set_defaults(handler=cmd_backfill)


def _target(config: Config, target: str) -> tuple[Rule, str]:
    """The rule named ``target``, else ``target`` as a query (a ConfigError if neither)."""
    from watcher.checks import check_rules_for
    from watcher.trial import TrialTargetError, trial_target

    # A broken rules.yaml does not stop anyone from testing a query: its problems are for
    # `watcher check`; only the rule names are wanted here.
    rules, _ = check_rules_for(config)
    try:
        return trial_target(rules, target)
    except TrialTargetError as exc:
        raise ConfigError([Problem("query", 1, exc.column, exc.message, exc.pointer)]) from exc


def cmd_test(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from watcher.rules import Explainer
    from watcher.store import Store
    from watcher.store.reading import Reading
    from watcher.trial import try_on

    out = out or sys.stdout
    colour = out.isatty()
    config = _config(args)
    rule, what = _target(config, args.target)
    since = datetime.now(UTC) - args.since
    with Store.open(config) as store:
        # The web page's tester's search: the same screen and reads, every match counted.
        reading = Reading(store.engine)
        result = try_on(rule, reading.recent_texts(since, args.feed), reading.articles,
                        keep=args.limit)
    explainer = Explainer(rule) if args.explain else None
    for hit in result.hits:
        _print_hit(out, hit.stored, hit.hits, colour)
        if explainer is not None:
            print(f"      {provenance(hit.stored)}", file=out)
            for line in explainer.explain(hit.stored.article).lines(hit.stored.article):
                print(f"      {line}", file=out)
    total, shown, per_feed = result.matched, len(result.hits), result.per_feed
    print(f"{what}: {total} of {result.scanned} articles since {since:%Y-%m-%d %H:%M} UTC "
          "matched" + (f" (showing {shown})" if shown < total else ""), file=out)
    if per_feed:
        rows = [(feed, str(n)) for feed, n in sorted(per_feed.items(), key=lambda i: -i[1])]
        print(table(("feed", "matches"), rows), file=out)
    return ExitCode.OK


def _print_hit(out: TextIO, stored: StoredArticle, hits: Any, colour: bool) -> None:
    from watcher.rules import best_snippet

    # Feed text shown as text: no CR, escape or bidi control reaches the terminal.
    item = replace(stored.article, title=flatten(stored.article.title),
                   description=flatten(stored.article.description),
                   paragraphs=tuple(map(flatten, stored.article.paragraphs)))
    moment = item.published or item.fetched
    title = f"{ANSI_TITLE}{one_line(item.title)}{ANSI_RESET}" if colour else one_line(item.title)
    print(f"#{stored.number}  {moment:%Y-%m-%d %H:%M}  {one_line(item.feed)}  {title}", file=out)
    print(f"      {one_line(item.url)}", file=out)
    found = best_snippet(item, hits)
    if found is not None:
        # plain output marks terms with [brackets], so piped output still shows them
        before, after = (ANSI_MARK, ANSI_RESET) if colour else ("[", "]")
        print(f"      {found.highlight(before, after)}", file=out)
    terms = sorted({h.term for h in hits})
    print(f"      terms: {', '.join(terms) if terms else '(metadata only)'}", file=out)


def provenance(stored: StoredArticle) -> str:
    """Where the article's date and outlet name came from, as the index recorded them."""
    article = stored.article
    moment = article.published or article.fetched
    source = article.published_source or "not recorded"
    return f"dated {moment:%Y-%m-%d %H:%M} UTC from: {source}; outlet: {one_line(article.outlet)}"


def cmd_backfill(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from watcher.checks import load_rules_for
    from watcher.progress import Progress
    from watcher.rules import Rule, RuleSet
    from watcher.store import Store

    out = out or sys.stdout
    config = _config(args)
    rules = load_rules_for(config)
    rule = rules.get(args.rule)
    if rule is None:
        names = [r.name for r in rules.rules]
        print(f"watcher: unknown rule '{args.rule}'{did_you_mean(args.rule, names)}",
              file=sys.stderr)
        return ExitCode.CONFIG
    if not rule.enabled:
        print(f"note: rule '{rule.name}' is disabled; backfilling it anyway", file=out)
    single = RuleSet([Rule(rule.name, rule.query, feeds=rule.feeds, min_hits=rule.min_hits)])
    now = datetime.now(UTC)
    since = now - args.since
    with Store.open(config) as store:
        # Matched first, recorded after: no write transaction while the read is open.
        found = []
        with Progress(f"articles matched against '{rule.name}'") as progress:
            for stored in store.recent_articles(since):
                progress.advance()
                if matched := single.match(stored.article):
                    found.append((stored.number, matched))
        added = sum(store.record_matches(number, matches, origin="backfill", now=now)
                    for number, matches in found)
    print(f"rule '{rule.name}': {len(found)} articles since {since:%Y-%m-%d %H:%M} UTC "
          f"matched, {added} new matches recorded for the next digest", file=out)
    return ExitCode.OK
