"""What ``watcher status`` shows: read from the queue's tables, rendered by a plain function."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from watcher.cluster.leader import APPLICATION_PREFIX, LOCK_CLASS, LOCK_SCHEDULER, SCHEDULER_QUERY
from watcher.cluster.queue import QUEUES


@dataclass(frozen=True)
class QueueCounts:
    waiting: int = 0  # todo, due now or later
    running: int = 0
    failed: int = 0
    stalled: int = 0  # running on a worker whose heartbeat stopped


@dataclass(frozen=True)
class ClusterStatus:
    workers_alive: int
    workers_silent: int  # registered, heartbeat older than the stall timeout
    scheduler: str | None  # "host pid N", or None when no process schedules
    queues: Mapping[str, QueueCounts] = field(default_factory=dict)
    oldest_due_feed: tuple[str, datetime] | None = None


def read_cluster_status(conninfo: str, *, stall_seconds: float) -> ClusterStatus:
    """The workers, the scheduler and the queues, from one short connection."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        holder = conn.execute(SCHEDULER_QUERY, (LOCK_CLASS, LOCK_SCHEDULER)).fetchone()
        present = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL"
                               ).fetchone()
        if not (present and present[0]):
            return ClusterStatus(0, 0, _scheduler_host(holder))
        alive, silent = conn.execute(
            "SELECT count(*) FILTER (WHERE last_heartbeat >= now() - make_interval(secs => %s)),"
            "       count(*) FILTER (WHERE last_heartbeat < now() - make_interval(secs => %s))"
            "  FROM procrastinate_workers", (stall_seconds, stall_seconds)).fetchone() or (0, 0)
        rows = conn.execute(
            "SELECT j.queue_name, j.status::text, count(*),"
            "       count(*) FILTER (WHERE j.status = 'doing' AND (w.id IS NULL OR"
            "           w.last_heartbeat < now() - make_interval(secs => %s)))"
            "  FROM procrastinate_jobs j LEFT JOIN procrastinate_workers w ON w.id = j.worker_id"
            " WHERE j.status IN ('todo', 'doing', 'failed')"
            " GROUP BY j.queue_name, j.status", (stall_seconds,)).fetchall()
    return ClusterStatus(int(alive), int(silent), _scheduler_host(holder),
                         count_queues(rows))


def count_queues(rows: Iterable[tuple[str, str, int, int]]) -> dict[str, QueueCounts]:
    counts: dict[str, dict[str, int]] = {name: {} for name in QUEUES}
    for queue, status, number, stalled in rows:
        slot = counts.setdefault(queue, {})
        if status == "todo":
            slot["waiting"] = slot.get("waiting", 0) + number
        elif status == "doing":
            slot["running"] = slot.get("running", 0) + number - stalled
            slot["stalled"] = slot.get("stalled", 0) + stalled
        elif status == "failed":
            slot["failed"] = slot.get("failed", 0) + number
    return {queue: QueueCounts(**slot) for queue, slot in counts.items()}


def _scheduler_host(holder: tuple[object, ...] | None) -> str | None:
    if holder is None:
        return None
    name = str(holder[0])
    return name[len(APPLICATION_PREFIX):].strip() if name.startswith(APPLICATION_PREFIX) else name


def oldest_due_feed(next_polls: Mapping[str, datetime | None], now: datetime
                    ) -> tuple[str, datetime] | None:
    """The feed that has waited longest past its poll time (a new feed is due now)."""
    due = [(when or now, name) for name, when in next_polls.items() if (when or now) <= now]
    if not due:
        return None
    when, name = min(due)
    return name, when


def render_status(status: ClusterStatus) -> list[str]:
    lines = [f"workers: {status.workers_alive} alive"
             + (f", {status.workers_silent} silent" if status.workers_silent else ""),
             f"scheduler: {status.scheduler or 'none (no process holds the scheduler role)'}"]
    for queue, counts in sorted(status.queues.items()):
        lines.append(f"queue {queue}: {counts.waiting} waiting, {counts.running} running, "
                     f"{counts.failed} failed, {counts.stalled} stalled")
    if status.oldest_due_feed:
        name, due = status.oldest_due_feed
        lines.append(f"oldest due feed: {name} (due {due:%Y-%m-%d %H:%M:%S %Z})")
    return lines
