"""``watcher run`` on a PostgreSQL index: this process joins the cluster until SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal

from watcher.cluster.member import ClusterMember, Role
from watcher.cluster.work import RuntimeWork
from watcher.config import Config
from watcher.rules import RuleSet
from watcher.runtime import Runtime

log = logging.getLogger("watcher.daemon")


async def run_member(config: Config, rules: RuleSet, *, role: Role) -> None:
    async with Runtime.open(config, rules, files_shared=True) as runtime:
        member = ClusterMember(config.database_url, RuntimeWork(runtime), role=role,
                               concurrency=max(2, config.poll.concurrency))
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        log.info("watcher joined the cluster as %s: %d feeds, %d rules",
                 "a worker" if role == "worker" else "a worker and possible scheduler",
                 len(config.feeds), len(rules.rules))
        try:
            await member.run(stopping)
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
        log.info("stopped")

