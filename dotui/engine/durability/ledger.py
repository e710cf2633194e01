"""Which log segments still hold changes not yet in a durable checkpoint (durable.py's rule).

A segment may be deleted once every change it holds is in a checkpoint made durable since,
and the index rows of what was written are durable too. A checkpoint round takes at most
``DurableState.ROUND_OBJECTS`` objects and an object may change again while its round writes
it, so "the round wrote this object" is not enough: each change is numbered as it is held, a
round remembers the number of the last change it took (``took``), and a segment's entry for an
object goes only when a round that took a change numbered at least as high wrote the object.

Loop thread only. Memory O(objects changed per segment kept). ``settle`` is O(segments kept x
objects written).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

Key = tuple[str, str]  # (namespace, id hex)


def segment_number(path: str) -> int:
    return int(os.path.basename(path)[:-4])


class SegmentLedger:
    def __init__(self) -> None:
        self._segments: dict[int, dict[Key, int]] = {}  # segment -> {object: its last change's number there}
        self._changes = 0  # changes held so far: numbers them
        self._unindexed: dict[Key, int] = {}  # written in a round whose index write failed -> took

    def changed(self, key: Key, segment: int) -> None:
        """A change of ``key`` is held, and in log segment number ``segment``. O(1)."""
        keys = self._segments.get(segment)
        if keys is None:
            keys = self._segments[segment] = {}
        self._changes += 1
        keys[key] = self._changes

    def took(self) -> int:
        """(When a round takes its work) the number of the last change held so far."""
        return self._changes

    def settle(self, written: Iterable[Key], took: int, index_written: bool, old: Iterable[str]) -> list[str]:
        """A round that ``took`` its changes wrote the objects ``written``; of the segments ``old``
        (those before the round's), the paths now redundant. None while the index write failed:
        what was written counts once an index write succeeds."""
        done = self._unindexed
        for key in written:
            done[key] = took
        if not index_written:
            return []
        self._unindexed = {}
        for keys in self._segments.values():
            for key, number in done.items():
                if keys.get(key, number + 1) <= number:
                    del keys[key]
        deletable = []
        for path in old:
            n = segment_number(path)
            if not self._segments.get(n):
                self._segments.pop(n, None)
                deletable.append(path)
        return deletable

    def holds(self, segment_path: str) -> bool:
        """Whether a log segment holds changes not yet in a durable checkpoint."""
        return bool(self._segments.get(segment_number(segment_path)))
