"""The web's view of a running watcher: the store, the rules in force and the config, and
the questions the pages ask of them (each answered for the HTML page and the API alike).

Query parameters are checked here; a bad one raises ``BadRequest`` with a message meant for
the user. Every method is synchronous: Starlette runs them on its thread pool, off the
server's event loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import islice

from watcher.config import Config, parse_duration
from watcher.digest.folding import FoldMemory
from watcher.rules import Explainer, Explanation, Rule, RuleSet, explain
from watcher.store import Store
from watcher.store.outbox import Delivery
from watcher.store.reading import MatchFilter, Reading
from watcher.trial import TrialResult, TrialTargetError, trial_target, try_on
from watcher.types import StoredArticle
from watcher.web.cache import Memo
from watcher.web.model import FeedRow, StoryItem, feed_rows, last_days, story_items

PAGE_SIZE = 25  # matched articles read per page of the front page
ATOM_SIZE = 50
TESTER_LIMIT = 20  # hits the tester shows
# The tester's work is bounded so that it answers quickly on any archive: it searches the
# newest TESTER_SCAN articles (newest first, stopping once its page of hits is full) and
# offers to search the next older ones (bench/bench_web.py measures the page as a whole).
# The count is the limit that decides, so an answer is the same on a busy machine and can
# be cached; TESTER_SECONDS is only a safety net, for a feed glob that skips nearly every
# article it walks.
TESTER_SCAN = 500
TESTER_SECONDS = 0.5
RULE_DAYS = 14  # days of matches per rule on /rules
# A site's learned boilerplate changes over days; re-reading it for every page of matches
# would be one query per outlet on the page.
BOILERPLATE_TTL = timedelta(minutes=10)
# The index's change marker is asked for at most this often: while polling commits several
# times a second, a page read by many would otherwise be worked out again after each commit
# (the niced web process then takes the CPU that polling leaves and more). A new match
# shows on the pages this much later at most.
CHANGE_MARKER_FRESH = 1.0  # seconds
# Answers worked out once and reused (watcher.web.cache; docs/web.md says why). Each key
# holds the change marker or the rows shown, so a new match shows as soon as the marker is
# read again; the times to live bound what the keys leave out: the boilerplate learned
# since (stories), the tester's moving ``since`` window (tests).
PAGE_CACHE_SIZE = 256
PAGE_CACHE_TTL = timedelta(minutes=1)
STORY_CACHE_SIZE = 1024
TEST_CACHE_SIZE = 128


class BadRequest(ValueError):
    """A query parameter the page cannot use; the message says why."""


@dataclass(frozen=True)
class FrontPage:
    items: list[StoryItem]
    next_before: int | None  # the ``before`` of the next page; None on the last one
    wanted: dict[str, str]  # the filters as given, for links and forms


@dataclass(frozen=True)
class TesterOutcome:
    target: str
    label: str = ""  # "rule 'x'" or "query"
    result: TrialResult | None = None
    explanations: list[Explanation] = field(default_factory=list)
    error: str | None = None
    column: int | None = None
    pointer: str | None = None  # the query with a caret under the error
    since: datetime | None = None
    before: int | None = None  # searched below this article number (a later page)
    next_before: int | None = None  # the ``before`` of the next page; None when done


class WebContext:
    def __init__(self, store: Store, rules: Callable[[], RuleSet],
                 config: Config | Callable[[], Config], *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.clock = clock
        self.marker_fresh = CHANGE_MARKER_FRESH
        self._marker: tuple[float, tuple[int, int]] | None = None  # (read at, marker)
        self.rules = rules
        self._config = config
        self.reading = Reading(store.engine)
        self.outbox = store.outbox
        self.boilerplate = store.boilerplate
        self._known: dict[str, tuple[datetime, frozenset[str]]] = {}
        page_seconds = PAGE_CACHE_TTL.total_seconds()
        self.pages: Memo[FrontPage] = Memo(PAGE_CACHE_SIZE, page_seconds)
        self.stories: Memo[list[StoryItem]] = Memo(STORY_CACHE_SIZE,
                                                    BOILERPLATE_TTL.total_seconds())
        self.tests: Memo[TesterOutcome] = Memo(TEST_CACHE_SIZE, page_seconds)
        self.overviews: Memo[dict[str, dict[str, int]]] = Memo(4, page_seconds)
        # A new match moves a page by one article: its other articles' pairs are judged.
        self.folding = FoldMemory()

    def version(self) -> tuple[int, int]:
        """The index's change marker (``Reading.version``), read again once it is older than
        ``marker_fresh`` seconds."""
        now = self.clock()
        marker = self._marker
        if marker is None or now - marker[0] >= self.marker_fresh:
            marker = self._marker = (now, self.reading.version())
        return marker[1]

    @property
    def config(self) -> Config:
        return self._config if isinstance(self._config, Config) else self._config()

    # -- the front page and the Atom feeds -------------------------------------------------

    def front_page(self, params: Mapping[str, str]) -> FrontPage:
        wanted = {k: params[k].strip() for k in ("rule", "feed", "tag", "day", "before")
                  if params.get(k, "").strip()}
        rules = self.rules()
        chosen: tuple[str, ...] | None = None
        if "rule" in wanted:
            chosen = (wanted["rule"],)
        if "tag" in wanted:
            tagged = tuple(r.name for r in rules.rules if wanted["tag"] in r.tags)
            chosen = tagged if chosen is None else tuple(r for r in chosen if r in tagged)
        start = end = None
        if "day" in wanted:
            try:
                day = date.fromisoformat(wanted["day"])
            except ValueError as exc:
                raise BadRequest(f"day: '{wanted['day']}' is not a date (YYYY-MM-DD)") from exc
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            end = start + timedelta(days=1)
        before = _number(wanted.get("before"), "before")
        wanted_matches = MatchFilter(rules=chosen, feed=wanted.get("feed"),
                                     fetched_from=start, fetched_until=end, before=before)
        shown = {k: v for k, v in wanted.items() if k != "before"}
        # A lookup costs a query (everyone's front page, a refresh). Only a new match can
        # change a page of matched articles: an article that matched nothing leaves it be.
        newest_match, _ = self.version()
        key = (tuple(sorted(wanted.items())), newest_match, id(rules))
        return self.pages.get(key, lambda: self._front_page(wanted_matches, shown, rules))

    def _front_page(self, wanted: MatchFilter, shown: dict[str, str],
                    rules: RuleSet) -> FrontPage:
        keys = self.reading.matched_keys(wanted, PAGE_SIZE)
        more = keys[-1][0] if len(keys) == PAGE_SIZE else None
        return FrontPage(self._stories(keys, rules), more, shown)

    def _stories(self, keys: list[tuple[int, tuple[int, ...]]],
                 rules: RuleSet) -> list[StoryItem]:
        """The stories of these matched articles, folded once: the key is the articles and
        their matches (neither changes once stored), so a poll that adds articles elsewhere
        leaves this page's folding valid, and only a new match on it is folded anew."""
        order = tuple(r.name for r in rules.rules)

        def fold() -> list[StoryItem]:
            found = self.reading.with_matches([number for number, _ in keys])
            return story_items(found, order, self._boilerplate(found), self.folding)

        return self.stories.get((tuple(keys), order), fold)

    def rule_feed(self, name: str) -> list[StoryItem] | None:
        """The newest stories of one rule (None: no such rule, now or in the index)."""
        rules = self.rules()
        keys = self.reading.matched_keys(MatchFilter(rules=(name,)), ATOM_SIZE)
        if not keys and rules.get(name) is None:
            return None
        return self._stories(keys, rules)

    def _boilerplate(self, found: list[StoredArticle]) -> dict[str, frozenset[str]]:
        """Per site on the page, the paragraphs ingestion learned as its boilerplate, so
        folding ignores them as a digest does."""
        settings = self.config.extract
        now = datetime.now(UTC)
        out = {}
        for site in {s.article.site for s in found}:
            cached = self._known.get(site)
            if cached is None or cached[0] < now:
                known = self.boilerplate.known(site, settings.boilerplate_min_articles,
                                               now - settings.boilerplate_window)
                cached = self._known[site] = (now + BOILERPLATE_TTL, known)
            out[site] = cached[1]
        return out

    # -- one article ----------------------------------------------------------------------

    def article(self, number: int) -> tuple[StoredArticle, dict[str, Explanation]] | None:
        """The stored article and, per rule it matched that still exists, why."""
        stored = self.store.get_article(number)
        if stored is None:
            return None
        rules = self.rules()
        explained = {}
        for match in stored.matches:
            rule = rules.get(match.rule)
            if rule is not None:
                explained[match.rule] = explain(rule, stored.article)
        return stored, explained

    # -- rules ----------------------------------------------------------------------------

    def rules_overview(self) -> tuple[list[Rule], dict[str, dict[str, int]], list[str]]:
        """Every rule, its matches per day over the last days, and those days."""

        now = datetime.now(UTC)
        days = last_days(now, RULE_DAYS)

        def count() -> dict[str, dict[str, int]]:
            per_day = self.reading.matches_per_day(
                datetime.fromisoformat(days[0]).replace(tzinfo=UTC))
            return {rule: {d.isoformat(): n for d, n in by_day.items()}
                    for rule, by_day in per_day.items()}

        counts = self.overviews.get((days[0], self.version()), count)
        return list(self.rules().rules), counts, days

    def test(self, params: Mapping[str, str]) -> TesterOutcome | None:
        """The tester's answer for ``q`` (a query) or ``rule`` (a rule's name); None when
        neither was given."""
        target = (params.get("q") or params.get("rule") or "").strip()
        if not target:
            return None
        try:
            since_delta = parse_duration(params.get("since") or "7d")
        except ValueError as exc:
            raise BadRequest(f"since: {exc}") from exc
        limit = min(_number(params.get("limit"), "limit") or TESTER_LIMIT, 100)
        before = _number(params.get("before"), "before")
        feed = params.get("feed") or None
        rules = self.rules()
        try:
            rule, label = trial_target(rules, target)
        except TrialTargetError as exc:
            return TesterOutcome(target, error=exc.message, column=exc.column,
                                 pointer=exc.pointer)
        # The rule itself is in the key: an edit of rules.yaml is tried anew.
        key = (target, rule, since_delta, feed, before, limit, self.version())
        return self.tests.get(key, lambda: self._test(target, rule, label, since_delta, feed,
                                                      before, limit))

    def _test(self, target: str, rule: Rule, label: str, since_delta: timedelta,
              feed: str | None, before: int | None, limit: int) -> TesterOutcome:
        since = datetime.now(UTC) - since_delta
        walk = self.reading.recent_texts(since, feed, before=before)
        try:
            result = try_on(rule, islice(walk, TESTER_SCAN), self.reading.articles,
                            keep=limit, stop_at_keep=True, seconds=TESTER_SECONDS)
            # One more than searched tells whether older articles remain for a next page.
            if result.complete and next(walk, None) is not None:
                result.complete = False
        finally:
            walk.close()  # stopped early, it still holds its connection
        explainer = Explainer(rule)
        explanations = [explainer.explain(hit.stored.article) for hit in result.hits]
        more = result.oldest if not result.complete else None
        return TesterOutcome(target, label, result, explanations, since=since, before=before,
                             next_before=more)

    # -- feeds and the outbox -------------------------------------------------------------

    def feeds(self) -> list[FeedRow]:
        pushes = {sub.feed: sub for sub in self.store.websub.all()}
        return feed_rows(self.config.feeds, self.store.feed_states(), pushes, datetime.now(UTC))

    def deliveries(self, limit: int = 200) -> list[Delivery]:
        return self.outbox.deliveries(limit=limit)

    def retry(self, delivery_id: int) -> bool:
        """A failed delivery back in the queue; False when it is not (or no longer) failed."""
        return self.outbox.requeue([delivery_id], datetime.now(UTC)) == 1


def _number(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    if not value.isdigit():
        raise BadRequest(f"{name}: expected a whole number, got '{value}'")
    return int(value)
