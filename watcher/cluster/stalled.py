"""Jobs of a worker that died run again, and never block their feed.

A worker sends a heartbeat; when it is killed (``kill -9``) or its machine vanishes, its
jobs stay ``doing`` and the heartbeat stops. The scheduler then finds them with
procrastinate's ``get_stalled_jobs`` and runs them again.

They are not retried in place. procrastinate's ``retry_job`` sets the job back to ``todo``,
which the queueing-lock index forbids when a newer poll of the same feed already waits; the
update fails and the row stays ``doing`` for ever, holding the feed's ``lock``, so the feed
is never polled again (procrastinate issues #1446 and #1543). So the stalled copy is first
marked failed, which frees both locks, and then a fresh copy is deferred, unless a sibling
already waits on the same queueing lock, which then does the work.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import procrastinate
from procrastinate.jobs import Status

from watcher.cluster.queue import defer_once

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Recovered:
    job_id: int
    task: str
    rerun: bool  # False when a waiting sibling will do the same work


async def recover_stalled_jobs(app: procrastinate.App, *, seconds_since_heartbeat: float
                               ) -> list[Recovered]:
    recovered: list[Recovered] = []
    stalled = await app.job_manager.get_stalled_jobs(
        seconds_since_heartbeat=seconds_since_heartbeat)
    for job in stalled:
        assert job.id is not None
        await app.job_manager.finish_job(job, status=Status.FAILED, delete_job=False)
        rerun = await defer_once(app, job.task_name, dict(job.task_kwargs), queue=job.queue,
                                 lock=job.lock, queueing_lock=job.queueing_lock,
                                 priority=job.priority)
        log.warning("job %s (%s %s) stalled: its worker stopped answering; %s", job.id,
                    job.task_name, job.task_kwargs,
                    "queued again" if rerun else "a queued copy will do the work")
        recovered.append(Recovered(job.id, job.task_name, rerun))
    # Workers whose heartbeat stopped are forgotten, so `watcher status` counts the living.
    await app.job_manager.prune_stalled_workers(seconds_since_heartbeat)
    return recovered
