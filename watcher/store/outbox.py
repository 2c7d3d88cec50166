"""The outbox: fixed digest/alert runs and their per-channel deliveries, plus alert
bookkeeping. Every SQL statement of delivery lives here (SQLAlchemy Core, portable).

A run's payload is the fixed ``Digest`` as JSON: written once, in the same transaction as
one ``pending`` delivery row per channel (and the feed notices it carries marked as told),
so a crash leaves either nothing or everything needed to deliver it. A delivery moves
pending -> sending (claimed, attempts + 1) -> sent | pending (retry at next_attempt) |
failed (reason kept). A ``sending`` row whose claim is older than the lease was interrupted
by a crash and is claimed again: at most that one message is resent, with the same
Message-ID, because the run key it is derived from is stored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Engine, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from watcher.store.driver import driver_value, insert_many
from watcher.store.entries import IN_CHUNK
from watcher.store.schema import (
    alert_articles,
    alert_windows,
    articles,
    feeds,
    matches,
    outbox_deliveries,
    outbox_runs,
)
from watcher.types import Candidate, FeedNotice

# pending -> sending (claimed) -> sent | pending (retry) | failed; see the module's docstring.
DeliveryStatus = Literal["pending", "sending", "sent", "failed"]
RunKind = Literal["digest", "alert"]
_HOLD_ALERT_ARTICLE = alert_articles.insert()
_HELD_COLUMNS = ("rule", "article_number", "state", "created")

@dataclass(frozen=True)
class RunData:
    """A run as fixed: its idempotency key, window and the digest (``payload``)."""

    key: str
    kind: RunKind
    name: str
    since: datetime
    cutoff: datetime
    created: datetime
    item_count: int
    payload: dict[str, Any]


@dataclass(frozen=True)
class Run(RunData):
    """A stored run."""

    id: int


@dataclass(frozen=True)
class Delivery:
    id: int
    run_id: int
    run_key: str
    channel: str
    state: DeliveryStatus
    attempts: int
    parts_done: int
    next_attempt: datetime
    claimed_at: datetime | None
    last_error: str | None
    sent_id: str | None
    sent_at: datetime | None
    updated: datetime


@dataclass(frozen=True)
class NewRun(RunData):
    """A run to fix, with the channels that get one pending delivery each."""

    channels: tuple[str, ...]


class Outbox:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- reading what a digest is made of -------------------------------------------------

    def candidates(self, since: datetime, until: datetime, rules: Collection[str], *,
                   exclude_alerted: bool = False) -> list[Candidate]:
        """Articles with matches of ``rules`` recorded in (since, until].

        Backfilled matches count too: ``rules backfill`` exists to put them in the next digest.
        """
        where = and_(matches.c.matched_at > since, matches.c.matched_at <= until,
                     matches.c.rule.in_(list(rules)))
        if exclude_alerted:
            alerted = select(alert_articles.c.article_number).where(
                alert_articles.c.state == "listed")
            where = and_(where, matches.c.article_number.not_in(alerted))
        return self._candidates(where)

    def articles_for_rule(self, rule: str, numbers: Collection[int]) -> list[Candidate]:
        return self._candidates(and_(matches.c.rule == rule,
                                     matches.c.article_number.in_(list(numbers))))

    def _candidates(self, where: Any) -> list[Candidate]:
        query = (select(articles, matches.c.rule, matches.c.hits)
                 .join(matches, matches.c.article_number == articles.c.number)
                 .where(where).order_by(articles.c.number, matches.c.id))
        rows: dict[int, Any] = {}
        rules: dict[int, list[str]] = defaultdict(list)
        hits: dict[int, list[tuple[str, int, int, str]]] = defaultdict(list)
        per_rule: dict[int, list[tuple[str, tuple[tuple[str, int, int, str], ...]]]] = \
            defaultdict(list)
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                rows.setdefault(row.number, row)
                rules[row.number].append(row.rule)
                found = tuple((str(f), int(s), int(e), str(t)) for f, s, e, t in (row.hits or []))
                hits[row.number].extend(found)
                per_rule[row.number].append((row.rule, found))
        return [Candidate(
            number=n, url=r.url, title=r.title, site=r.site, feed=r.feed,
            published=r.published, fetched=r.fetched, text_source=r.text_source,
            description=r.description or "", body=r.body or "", rules=tuple(rules[n]),
            hits=tuple(dict.fromkeys(hits[n])), rule_hits=tuple(per_rule[n]),
            site_name=r.site_name or "")
            for n, r in rows.items()]

    def pending_notices(self) -> list[FeedNotice]:
        query = (select(feeds.c.name, feeds.c.notice)
                 .where(feeds.c.notice.is_not(None), feeds.c.notice_sent.is_(False))
                 .order_by(feeds.c.name))
        with self.engine.connect() as conn:
            return [FeedNotice(row.name, row.notice) for row in conn.execute(query)]

    # -- runs -----------------------------------------------------------------------------

    def find_run(self, key: str) -> Run | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(outbox_runs).where(outbox_runs.c.key == key)).first()
        return _run(row) if row else None

    def run(self, run_id: int) -> Run:
        with self.engine.connect() as conn:
            row = conn.execute(select(outbox_runs).where(outbox_runs.c.id == run_id)).one()
        return _run(row)

    def last_cutoff(self, kind: RunKind, name: str) -> datetime | None:
        with self.engine.connect() as conn:
            value: datetime | None = conn.execute(
                select(func.max(outbox_runs.c.cutoff))
                .where(outbox_runs.c.kind == kind, outbox_runs.c.name == name)).scalar()
        return value

    def create_run(self, new: NewRun, *, notices: Sequence[FeedNotice] = (),
                   alert_listed: Sequence[int] = (), alert_counted: Sequence[int] = ()
                   ) -> Run | None:
        """Fix a run and enqueue its deliveries, atomically. None: the key already exists
        (this digest slot was already built, by us before a crash or by another process)."""
        try:
            with self.engine.begin() as conn:
                inserted = conn.execute(outbox_runs.insert().values(
                    {f.name: getattr(new, f.name) for f in fields(RunData)}
                )).inserted_primary_key
                assert inserted is not None
                run_id = inserted[0]
                for channel in new.channels:
                    conn.execute(outbox_deliveries.insert().values(
                        run_id=run_id, channel=channel, state="pending", attempts=0,
                        parts_done=0, next_attempt=new.created, updated=new.created))
                for notice in notices:
                    # Only the notice text that went into the digest counts as told.
                    conn.execute(update(feeds).where(
                        feeds.c.name == notice.feed, feeds.c.notice == notice.message)
                        .values(notice_sent=True))
                for state, numbers in (("listed", alert_listed), ("counted", alert_counted)):
                    if numbers:
                        conn.execute(update(alert_articles).where(
                            alert_articles.c.rule == new.name,
                            alert_articles.c.article_number.in_(list(numbers)),
                            alert_articles.c.state == "held")
                            .values(state=state, run_id=run_id))
                if new.kind == "alert":
                    done = conn.execute(update(alert_windows).where(
                        alert_windows.c.rule == new.name).values(last_sent=new.created))
                    if done.rowcount == 0:
                        conn.execute(alert_windows.insert().values(
                            rule=new.name, last_sent=new.created))
        except IntegrityError:
            return None
        return self.find_run(new.key)

    # -- deliveries -----------------------------------------------------------------------

    def due(self, now: datetime, lease: timedelta) -> list[Delivery]:
        """Pending rows whose time has come, and sending rows abandoned past the lease."""
        where = or_(and_(outbox_deliveries.c.state == "pending",
                         outbox_deliveries.c.next_attempt <= now),
                    and_(outbox_deliveries.c.state == "sending",
                         outbox_deliveries.c.claimed_at < now - lease))
        return self._deliveries(where)

    def deliveries(self, *, states: Collection[DeliveryStatus] | None = None,
                   run_id: int | None = None, limit: int = 200) -> list[Delivery]:
        where: Any = outbox_deliveries.c.id.is_not(None)
        if states:
            where = and_(where, outbox_deliveries.c.state.in_(list(states)))
        if run_id is not None:
            where = and_(where, outbox_deliveries.c.run_id == run_id)
        return self._deliveries(where, newest_first=True, limit=limit)

    def _deliveries(self, where: Any, *, newest_first: bool = False,
                    limit: int | None = None) -> list[Delivery]:
        order = outbox_deliveries.c.id.desc() if newest_first else outbox_deliveries.c.id
        query = (select(outbox_deliveries, outbox_runs.c.key.label("run_key"))
                 .join(outbox_runs, outbox_runs.c.id == outbox_deliveries.c.run_id)
                 .where(where).order_by(order).limit(limit))
        with self.engine.connect() as conn:
            return [Delivery(**{k: row._mapping[k] for k in Delivery.__dataclass_fields__})
                    for row in conn.execute(query)]

    def claim(self, delivery: Delivery, now: datetime) -> bool:
        """Take a due delivery for sending; False when someone else took it first.

        On PostgreSQL the row is leased with ``FOR UPDATE SKIP LOCKED``: a cluster member
        that finds it locked by another passes on at once instead of queueing behind it.
        The update's conditions (same state, same attempt) are what make the claim
        exclusive on either database; SQLite, which has no row locks, relies on them alone.
        """
        unchanged = (outbox_deliveries.c.id == delivery.id,
                     outbox_deliveries.c.state == delivery.state,
                     outbox_deliveries.c.attempts == delivery.attempts)
        with self.engine.begin() as conn:
            if conn.execute(select(outbox_deliveries.c.id).where(*unchanged)
                            .with_for_update(skip_locked=True)).first() is None:
                return False
            done = conn.execute(update(outbox_deliveries).where(*unchanged)
                                .values(state="sending", claimed_at=now, updated=now,
                                        attempts=delivery.attempts + 1))
        return done.rowcount == 1

    def mark_part(self, delivery_id: int, parts_done: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(outbox_deliveries).where(outbox_deliveries.c.id == delivery_id)
                         .values(parts_done=parts_done))

    def mark_sent(self, delivery_id: int, now: datetime, sent_id: str) -> None:
        self._set(delivery_id, state="sent", sent_at=now, sent_id=sent_id, updated=now,
                  claimed_at=None)

    def mark_retry(self, delivery_id: int, now: datetime, next_attempt: datetime,
                   error: str) -> None:
        self._set(delivery_id, state="pending", next_attempt=next_attempt, last_error=error,
                  updated=now, claimed_at=None)

    def mark_failed(self, delivery_id: int, now: datetime, error: str) -> None:
        self._set(delivery_id, state="failed", last_error=error, updated=now, claimed_at=None)

    def requeue(self, delivery_ids: Iterable[int], now: datetime) -> int:
        """Failed deliveries back to pending (``watcher outbox retry``): attempts start over,
        parts already accepted are kept."""
        with self.engine.begin() as conn:
            done = conn.execute(update(outbox_deliveries).where(
                outbox_deliveries.c.id.in_(list(delivery_ids)),
                outbox_deliveries.c.state == "failed")
                .values(state="pending", attempts=0, next_attempt=now, updated=now))
        return done.rowcount

    def _set(self, delivery_id: int, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(outbox_deliveries)
                         .where(outbox_deliveries.c.id == delivery_id).values(**values))

    # -- immediate alerts -----------------------------------------------------------------

    def hold_alert_articles(self, held: Mapping[str, Iterable[int]], now: datetime) -> int:
        """Record new matches of immediate rules (each rule's article numbers), all in one
        transaction (a batch of topic articles can hold hundreds of rules), in ``held``'s
        order. An article already recorded for a rule is left as it is (``on_stored`` may
        see the same articles twice). Returns how many were new."""
        wanted = {rule: sorted(set(numbers)) for rule, numbers in held.items()}
        rules = [rule for rule, numbers in wanted.items() if numbers]
        if not rules:
            return 0
        numbers = sorted({number for rule in rules for number in wanted[rule]})
        aa = alert_articles.c
        with self.engine.begin() as conn:
            # Asked by rule and article both, so that the unique index (rule first) answers.
            known = {(row.rule, row.article_number)
                     for rule_start in range(0, len(rules), IN_CHUNK)
                     for number_start in range(0, len(numbers), IN_CHUNK)
                     for row in conn.execute(select(aa.rule, aa.article_number).where(
                         aa.rule.in_(rules[rule_start:rule_start + IN_CHUNK]),
                         aa.article_number.in_(numbers[number_start:number_start + IN_CHUNK])))}
            created = driver_value(aa.created, now, conn.dialect)
            new = [(rule, number, "held", created)
                   for rule in rules for number in wanted[rule] if (rule, number) not in known]
            insert_many(conn, _HOLD_ALERT_ARTICLE, _HELD_COLUMNS, new)
        return len(new)

    def held_alerts(self) -> dict[str, list[int]]:
        query = (select(alert_articles.c.rule, alert_articles.c.article_number)
                 .where(alert_articles.c.state == "held").order_by(alert_articles.c.id))
        out: dict[str, list[int]] = defaultdict(list)
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                out[row.rule].append(row.article_number)
        return dict(out)

    def release_held(self, rule: str, numbers: Collection[int]) -> None:
        """Held articles that no alert will carry (rule gone, no channel): they stay in the
        digest, as never alerted."""
        with self.engine.begin() as conn:
            conn.execute(alert_articles.delete().where(
                alert_articles.c.rule == rule, alert_articles.c.state == "held",
                alert_articles.c.article_number.in_(list(numbers))))

    def alerts_last_sent(self, rules: Collection[str]) -> dict[str, datetime]:
        """When each of ``rules`` last had an alert made; rules never alerted are absent."""
        wanted = sorted(set(rules))
        if not wanted:
            return {}
        aw = alert_windows.c
        with self.engine.connect() as conn:
            return {row.rule: row.last_sent
                    for start in range(0, len(wanted), IN_CHUNK)
                    for row in conn.execute(select(aw.rule, aw.last_sent).where(
                        aw.rule.in_(wanted[start:start + IN_CHUNK])))}


def _run(row: Any) -> Run:
    return Run(**{k: row._mapping[k] for k in Run.__dataclass_fields__})
