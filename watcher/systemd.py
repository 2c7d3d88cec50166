"""Telling systemd how the daemon is doing (``Type=notify``, ``WatchdogSec=``).

The protocol is one datagram per message to the unix socket named by ``NOTIFY_SOCKET`` (a
path, or an abstract name written with a leading ``@``), e.g. ``READY=1``. Without the
variable (not started by systemd) every call does nothing. ``WATCHDOG_USEC`` says how often
systemd expects ``WATCHDOG=1``; we send it twice as often, as sd_notify(3) advises, and only
while the index answers, so a daemon whose index hangs is restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable, Mapping

log = logging.getLogger("watcher.systemd")
ONCE_WAIT_SECONDS = 2.0


class Notifier:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.address = env.get("NOTIFY_SOCKET") or None
        self.watchdog_seconds = _watchdog_seconds(env)
        self._failing = False  # told the log already; said again only after a success

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *fields: str, wait: float = 0.0) -> bool:
        """Send ``KEY=VALUE`` fields in one datagram; False when there is nobody to tell or
        the socket refused (never raised: a supervisor's hiccup must not stop the work).
        ``wait``: how long a full socket may hold the message up (0: not at all)."""
        if self.address is None:
            return False
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                # A listener that stopped reading must not stall the event loop: a full
                # queue fails a watchdog ping at once (the next one tries again); READY and
                # STOPPING, sent once each, wait a moment for room.
                sock.settimeout(wait)  # 0: non-blocking
                sock.connect(target)
                sock.sendall("\n".join(fields).encode("utf-8"))
        except OSError as exc:
            if not self._failing:
                log.warning("cannot notify systemd at %s: %s", self.address, exc)
            self._failing = True
            return False
        self._failing = False
        return True

    def ready(self, status: str = "") -> bool:
        return self.send("READY=1", *([f"STATUS={status}"] if status else []),
                         wait=ONCE_WAIT_SECONDS)

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def stopping(self) -> bool:
        return self.send("STOPPING=1", "STATUS=stopping: finishing the work in flight",
                         wait=ONCE_WAIT_SECONDS)


def _watchdog_seconds(env: Mapping[str, str]) -> float | None:
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):
        return None  # meant for another process (a parent that exec'd us keeps its own)
    return int(usec) / 1_000_000


async def keep_watchdog_fed(notifier: Notifier, healthy: Callable[[], bool],
                            stopping: asyncio.Event) -> None:
    """Send ``WATCHDOG=1`` every half watchdog period while ``healthy()`` (run in a thread:
    it asks the index) says yes; until ``stopping`` is set."""
    if notifier.watchdog_seconds is None:
        return
    period = notifier.watchdog_seconds / 2
    while not stopping.is_set():
        if await asyncio.to_thread(healthy):
            notifier.watchdog()
        else:
            log.error("the index does not answer; not telling systemd's watchdog we are well")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), period)
