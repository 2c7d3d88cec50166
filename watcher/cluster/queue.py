"""The job queue of a cluster: procrastinate on the index's own PostgreSQL database.

Two kinds of job, each on its own queue so ``watcher status`` can count them apart:

- ``watcher.poll`` (queue ``polls``): poll one feed. Its ``lock`` is the feed's name, so
  two polls of one feed never run at once anywhere in the cluster; its ``queueing_lock``
  keeps at most one poll of a feed waiting, however often the scheduler finds it due.
- ``watcher.entry`` (queue ``entries``): fetch, extract, match and store one new entry, so
  one busy feed spreads over every worker. The index's unique constraints, not the job,
  decide that an entry is stored once; the entry's ``lock`` keeps a second copy (deferred
  by a rerun poll) from working it while the first does, and its queueing lock saves
  queueing it twice.

Why procrastinate: an async PostgreSQL job queue that needs no other server (the index's
database is the broker), with per-key locks, queueing locks, worker heartbeats and stalled
job detection built in; see docs/scaling.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import procrastinate
import psycopg
from procrastinate import exceptions as procrastinate_errors

from watcher.cluster import is_cluster_index

POLLS = "polls"
ENTRIES = "entries"
QUEUES = (POLLS, ENTRIES)
POLL_TASK = "watcher.poll"
ENTRY_TASK = "watcher.entry"

PollHandler = Callable[[str], Awaitable[None]]
EntryHandler = Callable[[int], Awaitable[None]]


def conninfo(index_url: str) -> str:
    """A libpq URL from the index's URL (``postgres://``, ``postgresql+psycopg://``...)."""
    scheme, sep, rest = index_url.partition("://")
    if not sep or not is_cluster_index(index_url):
        raise ValueError(f"a cluster needs a PostgreSQL index, not {scheme or index_url}")
    return f"postgresql://{rest}"


def make_app(index_url: str, *, poll: PollHandler | None = None,
             entry: EntryHandler | None = None, **connector_options: Any) -> procrastinate.App:
    """The app with both tasks; a process that only defers may leave the handlers out."""
    connector = procrastinate.PsycopgConnector(conninfo=conninfo(index_url),
                                               **connector_options)
    app = procrastinate.App(connector=connector)

    async def poll_feed(feed: str) -> None:
        if poll is None:
            raise RuntimeError("this process defers polls but does not run them")
        await poll(feed)

    async def process_entry(entry_row_id: int) -> None:
        if entry is None:
            raise RuntimeError("this process defers entries but does not run them")
        await entry(entry_row_id)

    app.task(name=POLL_TASK, queue=POLLS)(poll_feed)
    app.task(name=ENTRY_TASK, queue=ENTRIES)(process_entry)
    return app


def poll_lock(feed: str) -> str:
    return f"feed:{feed}"


async def defer_once(app: procrastinate.App, task: str, arguments: dict[str, Any], *,
                     queueing_lock: str | None, **options: Any) -> bool:
    """Queue one job; False when a copy already waits on ``queueing_lock`` (it will do)."""
    deferrer = app.configure_task(task, queueing_lock=queueing_lock, **options)
    try:
        await deferrer.defer_async(**arguments)
    except procrastinate_errors.AlreadyEnqueued:
        return False
    return True


async def defer_poll(app: procrastinate.App, feed: str) -> bool:
    """Queue a poll of ``feed``; False when one is already waiting."""
    return await defer_once(app, POLL_TASK, {"feed": feed}, lock=poll_lock(feed),
                            queueing_lock=f"poll:{feed}")


def _entry_options(entry_row_id: int) -> dict[str, Any]:
    key = f"entry:{entry_row_id}"
    return {"lock": key, "queueing_lock": key}


async def defer_entry(app: procrastinate.App, entry_row_id: int) -> bool:
    """Queue the work on one registered entry; False when it is already waiting."""
    return await defer_once(app, ENTRY_TASK, {"entry_row_id": entry_row_id},
                            **_entry_options(entry_row_id))


async def defer_entries(app: procrastinate.App, entry_row_ids: Sequence[int]) -> int:
    """Queue the work on a poll's entries in one statement, so a busy feed's entries cost
    one round trip, not one each; returns how many were queued. The statement is all or
    nothing: when one entry already waits (a second poll hands out its feed's pending
    entries again), they are queued one at a time instead."""
    if not entry_row_ids:
        return 0
    jobs = [app.configure_task(ENTRY_TASK, **_entry_options(row_id))
            .make_new_job(entry_row_id=row_id) for row_id in entry_row_ids]
    try:
        await app.job_manager.batch_defer_jobs_async(jobs)
    except procrastinate_errors.AlreadyEnqueued:
        return sum([await defer_entry(app, row_id) for row_id in entry_row_ids])
    return len(jobs)


def upgrade_queue(index_url: str) -> str:
    """``watcher db upgrade`` on PostgreSQL: the job queue's tables beside the index's.

    Created when missing, not migrated: pyproject.toml pins procrastinate's minor version,
    and moving to another needs its migration scripts applied here first."""
    with psycopg.connect(conninfo(index_url)) as conn:
        row = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NULL").fetchone()
    missing = bool(row and row[0])
    if missing:
        app = make_app(index_url)
        with app.open():
            app.schema_manager.apply_schema()
    return "job queue (procrastinate) " + ("created" if missing else "already in place")


# Which of some entries have a job waiting or running, each found by its own partial index
# (procrastinate's: queueing locks of waiting jobs, locks of running ones).
_ENTRIES_WITH_JOBS = """
SELECT queueing_lock AS key FROM procrastinate_jobs
 WHERE status = 'todo' AND queueing_lock = ANY(%(keys)s)
UNION
SELECT lock AS key FROM procrastinate_jobs
 WHERE status = 'doing' AND lock = ANY(%(keys)s)
"""


async def requeue_lost_entries(app: procrastinate.App, entry_row_ids: Sequence[int]) -> int:
    """Queue those of ``entry_row_ids`` that have no job waiting or running (their jobs were
    lost); returns how many were queued. One query and one statement however many are
    asked about: the scheduler asks about every entry long unattempted, which under a
    backlog is thousands whose jobs merely wait their turn."""
    keys = {_entry_options(row_id)["queueing_lock"]: row_id for row_id in entry_row_ids}
    if not keys:
        return 0
    rows = await app.connector.execute_query_all_async(_ENTRIES_WITH_JOBS, keys=list(keys))
    busy = {row["key"] for row in rows}
    return await defer_entries(app, [row_id for key, row_id in keys.items() if key not in busy])
