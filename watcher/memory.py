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

    The pass before the freeze frees the building's garbage cycles, which would otherwise
    be frozen with it. After a reload the previous rule set is frozen: it is unfrozen, and
    only a full pass can free what of it the new set no longer uses. The first time nothing
    is frozen and what was just built is young (built with the collector paused, or barely
    older), so a pass over the two young generations finds its cycles without walking
    every module the process has imported, which a full pass does.
    """
    if gc.get_freeze_count():
        gc.unfreeze()
        gc.collect()
    else:
        gc.collect(1)
    gc.freeze()
