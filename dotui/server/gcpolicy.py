"""How the garbage collector runs in a long-lived server process (`dotui serve --gc latency`), a policy apart from it.

CPython collects the young generation after 700 net container allocations and the whole heap every tenth
collection of the middle one. Under a sustained load every collection finds the calls in flight alive (their
tasks, futures, frames), promotes them, and the old generation fills with what dies a moment later: a full
collection of 18-57 ms CPU on the loop in every 15-30 s window of bench/sustained.py, which every caller then
waits out (bench/README.md, Sustained load). So, once the engine has started:

- what is alive then (modules, classes, the index, the objects woken at start) is frozen out of the collector's
  passes (``gc.freeze``): it lives as long as the process, and scanning it again finds nothing;
- a young collection waits for ``YOUNG`` net allocations, so the calls in flight are a small part of what it
  finds alive and far fewer of them are promoted to die in the old generation;
- a full collection waits for ``FULL`` collections of the middle generation (CPython also waits until a quarter
  of the old generation is new since the last one).

Cycles of garbage still go: later, in larger, rarer passes. The cost is memory: what is promoted stays until a
full pass, and RSS grows 3x faster per call in bench/longrun.py (bench/README.md, Sustained load), which is why
it is not the default. O(1) to apply; what a young pass costs is
O(``YOUNG``) (about 1-2 ms at 50,000), a full one O(the heap made since the freeze).
"""

from __future__ import annotations

import gc

YOUNG = 50_000  # net container allocations between young collections (CPython: 700)
MIDDLE = 10  # young collections between collections of the middle generation (CPython: 10)
FULL = 100  # middle collections between full ones (CPython: 10)


def settle_after_start() -> tuple[int, int, int]:
    """Freeze what is alive now and set the thresholds above; returns the thresholds it replaced."""
    was = gc.get_threshold()
    gc.collect()  # what is garbage now is not frozen with the rest
    gc.freeze()
    gc.set_threshold(YOUNG, MIDDLE, FULL)
    return was


def restore(thresholds: tuple[int, int, int]) -> None:
    """Undo ``settle_after_start`` (an engine served from a process that goes on: tests, benchmarks)."""
    gc.unfreeze()
    gc.set_threshold(*thresholds)
