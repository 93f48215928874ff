"""The garbage collector while a plan is made.

Python's cyclic collector walks the objects of its older generations again and again as new
ones arrive, and a plan of 10,000 pairs creates millions of objects (actions, bodies, records)
while the state it was read from stays alive throughout: at 10,000 pairs those passes cost
more than a quarter of planning, and more per pair the larger the program. A plan makes
almost no cyclic garbage (reference counting frees what it drops), so `settled()` switches
the cyclic collector off while a run reads and plans, and back on when it leaves (the job
then applies with it on). Nested uses count; a collector the caller had switched off stays
off. Measured by `benchmarks/bench_plan.py`.

Switched back on, the collector would at once walk every object the plan made (all of them
still alive: the plan is about to be applied), a third of a second at 10,000 pairs for
nothing. So on leaving, the objects alive then are frozen (`gc.freeze`: moved aside, in
constant time, where the collector does not walk; reference counting still frees them), and
on the next entry they are handed back to the collector's oldest generation (`gc.unfreeze`),
so a process that plans again and again (the demo, the tests) leaves no cycle behind for good.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["settled"]

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def settled() -> Iterator[None]:
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
            gc.unfreeze()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.freeze()
                gc.enable()
