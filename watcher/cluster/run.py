"""``watcher run`` on a PostgreSQL index: this process joins the cluster until SIGTERM.

It is assembled as the single-process daemon is (``watcher.runtime``): the same runtime,
the same edits taken up (``Runtime.take_up_edits``, each round), the same services beside
it (``ServiceGroup``: the web pages and systemd's notifications, READY once the first
round is done). Only the ticking differs: jobs on the shared queue instead of APScheduler.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence

from watcher.cluster.member import ClusterMember, Role
from watcher.cluster.work import RuntimeWork
from watcher.config import Config
from watcher.rules import RuleSet
from watcher.runtime import Runtime, Service, ServiceGroup

log = logging.getLogger("watcher.daemon")


async def run_member(config: Config, rules: RuleSet, *, role: Role,
                     services: Sequence[Service] = ()) -> None:
    async with Runtime.open(config, rules, files_shared=True) as runtime:
        member = ClusterMember(config.database_url, RuntimeWork(runtime), role=role,
                               concurrency=max(2, config.poll.concurrency),
                               settings=config.cluster)
        beside = ServiceGroup(services)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, runtime.stopping.set)
        try:
            await beside.start(runtime)
            log.info("watcher joined the cluster as %s: %d feeds, %d rules",
                     "a worker" if role == "worker" else "a worker and possible scheduler",
                     len(config.feeds), len(rules.rules))
            await member.run(runtime.stopping, up=beside.up)
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
            await beside.stop()
        log.info("stopped")
