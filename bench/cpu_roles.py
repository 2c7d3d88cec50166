"""Where a benchmark run's CPU went: the CPU seconds of each process of a ``watcher run``
daemon, by role (the daemon itself, its extraction workers, its niced web process) and of a
clients' process, so a slowdown can be put on the process that took the CPU."""

from __future__ import annotations

import contextlib

import psutil

ROLES = ("daemon", "workers", "web", "clients")


def cpu_seconds(daemon: int, clients: int | None) -> dict[int, tuple[str, float]]:
    """CPU seconds used so far by each process of the run, with its role: the daemon, its
    extraction workers, its web process (the one niced) and the clients' process."""
    found: dict[int, tuple[str, float]] = {}
    root = psutil.Process(daemon)
    members = [(root, "daemon"), *((child, "") for child in root.children(recursive=True))]
    if clients is not None:
        members.append((psutil.Process(clients), "clients"))
    for process, role in members:
        with contextlib.suppress(psutil.NoSuchProcess):  # a worker retired meanwhile
            role = role or ("web" if process.nice() > 0 else "workers")
            used = process.cpu_times()
            found[process.pid] = (role, used.user + used.system)
    return found


def cpu_used(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]
             ) -> dict[str, float]:
    out = dict.fromkeys(ROLES, 0.0)
    for pid, (role, used) in after.items():
        out[role] += used - before.get(pid, (role, 0.0))[1]
    return out
