"""The garbage collector around objects that live long: a compiled rule set.

CPython's cyclic collector walks every tracked object of a generation on each pass. Rules
are built in one go and then live until the next reload, so passes while they are being
built free nothing, and passes afterwards should not walk them again.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """No automatic GC passes while building objects that all live long (a compiled rule
    set, or the YAML and queries it is checked from): each pass would walk everything built
    so far and free nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def settle_in_memory() -> None:
    """Keep long-lived objects (a compiled rule set) out of every future GC pass.

    A rule set of 10,000 rules is hundreds of thousands of objects that live until the next
    reload; scanning them on every collection would slow matching (docs/rules.md, Speed).
    Unfreeze first so the previous rule set's cycles can still be collected.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
