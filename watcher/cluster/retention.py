"""Finished jobs leave the queue, so ``procrastinate_jobs`` (and its events) stop growing.

Succeeded jobs go after ``cluster.keep_done_jobs``; failed ones are kept longer
(``cluster.keep_failed_jobs``): ``watcher status`` counts them and their events say what
went wrong. The deleting is procrastinate's own ``delete_old_jobs``, the query behind its
builtin ``remove_old_jobs`` task. The scheduler calls it from its round instead of
deferring that task, so the windows follow watcher.yaml and no worker has to serve the
builtin task's queue. It counts whole hours since a job's last event.
"""

from __future__ import annotations

from datetime import timedelta

import procrastinate

# The delete reads every job's latest event, so it runs now and then, not every round.
PURGE_EVERY = timedelta(hours=1)


def whole_hours(window: timedelta) -> int:
    return max(1, int(window.total_seconds() // 3600))


async def purge_finished_jobs(app: procrastinate.App, *, keep_done: timedelta,
                              keep_failed: timedelta) -> None:
    """Delete succeeded jobs older than ``keep_done``, failed ones older than
    ``keep_failed`` (or ``keep_done`` if longer: procrastinate deletes failed jobs only
    together with succeeded ones)."""
    jobs = app.job_manager
    await jobs.delete_old_jobs(nb_hours=whole_hours(keep_done))
    await jobs.delete_old_jobs(nb_hours=whole_hours(max(keep_done, keep_failed)),
                               include_failed=True)
