"""A commit log whose commits can be made slow on purpose, to watch the output gate.

On a real disk a commit (append + fdatasync) takes about a millisecond, so a
result held by the output gate is released before any screen can show it.
``SlowCommitLog`` waits ``delay`` seconds before each fdatasync; while it waits,
every call that wrote returns into the gate (⧗ on the screen), and the calls
that arrive meanwhile form the next group commit. ``dotui --commit-delay
SECONDS`` starts with a delay, and the ``commit_delay`` admin operation changes
it at run time (the tour's output-gate lesson does; see docs/tour.md).

With no delay it behaves as ``CommitLog``, syncing on the engine's loop; with
one, ``inline_sync`` is false, so the engine syncs on its log thread and the
loop keeps running calls meanwhile.
"""

from __future__ import annotations

import threading

from .commitlog import CommitLog

MAX_DELAY = 600.0  # the tour holds a commit while the learner reads (docs/tour.md); set_delay(0) ends it


class SlowCommitLog(CommitLog):
    """``CommitLog`` with an adjustable wait before each fdatasync."""

    def __init__(self, folder: str):
        super().__init__(folder)
        self._delay = 0.0
        self._wake = threading.Event()

    @property
    def inline_sync(self) -> bool:  # type: ignore[override]  # a property over CommitLog's class attribute: the delay can change it
        return self._delay <= 0

    @property
    def delay(self) -> float:
        return self._delay

    def set_delay(self, seconds: float) -> float:
        """Hold each later commit ``seconds`` (0 to commit at disk speed again); returns it."""
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds <= MAX_DELAY:
            raise ValueError(f"a commit delay is a number of seconds from 0 to {MAX_DELAY:g}; got {seconds!r}")
        self._delay = float(seconds)
        self._wake.set()  # a commit waiting on the old delay goes on now if the new one is shorter
        self._wake = threading.Event()
        return self._delay

    def sync(self, fd: int) -> None:
        if self._delay > 0:
            self._wake.wait(self._delay)
        super().sync(fd)
