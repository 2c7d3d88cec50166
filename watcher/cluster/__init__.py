"""Several ``watcher run`` processes sharing one PostgreSQL index (see docs/scaling.md).

- ``queue``: the procrastinate app on the index's database: a poll job per due feed
  (never two of one feed at once), an entry job per new entry; deferring without
  duplicates; procrastinate's schema applied beside the index's.
- ``stalled``: jobs of a worker that died (``kill -9``, a vanished machine) run again,
  without the lock pitfall of retrying them in place.
- ``leader``: exactly one scheduler at a time, by a PostgreSQL advisory lock held on its
  own connection; another process takes over when its holder dies.
- ``status``: what ``watcher status`` shows about the cluster.

A SQLite index needs none of this: one process does everything, as before.
"""


def is_cluster_index(index_url: str) -> bool:
    """A PostgreSQL index can be shared by a cluster; a SQLite file cannot. (Here, not in
    ``queue``: every ``watcher run`` asks, and only a cluster's needs procrastinate.)"""
    return index_url.partition("://")[0].startswith(("postgres", "postgresql"))
