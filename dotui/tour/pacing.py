"""How a lesson moves on: by itself ("auto"), or when the learner says (space, →, ←).

The lesson's thread asks ``Pacing.wait(seconds)`` after each step; the front
end's keys call ``press``. In auto mode a step stays up ``seconds`` (times the
dwell scale) unless a key moves it sooner; paused, it stays until the learner
moves. What the step showed is held meanwhile by the lesson itself (a commit
held by the commit delay, a call suspended at an await the lesson releases),
so the screen keeps showing the real state, not a recording.

    pacing = Pacing()
    pacing.press("pause")      # from the UI thread: stop at each step
    move = pacing.wait(2.5)    # on the lesson's thread: FORWARD, BACK, REPLAY (or TourStopped)
"""

from __future__ import annotations

import collections
import threading
import time

FORWARD, BACK, REPLAY, END = "forward", "back", "replay", "end"
MOVES = (FORWARD, BACK, REPLAY, END)
MAX_MOVES = 16  # keys pressed faster than the lesson moves: the rest are dropped


class TourStopped(Exception):
    """The learner stopped the lesson."""


class Pacing:
    """Thread-safe: ``press`` from any thread, ``wait`` from the lesson's."""

    def __init__(self, auto: bool = True, dwell_scale: float = 1.0):
        self.auto = auto
        self.dwell_scale = dwell_scale
        self._cond = threading.Condition()
        self._moves: collections.deque[str] = collections.deque(maxlen=MAX_MOVES)
        self._stopped = False
        self.waiting = False  # the lesson is at a step, waiting for the learner or its dwell

    @property
    def stopped(self) -> bool:
        return self._stopped

    def press(self, what: str) -> None:
        """``pause`` (auto on or off), or a move: ``forward``, ``back``, ``replay``, ``end``. Going back
        pauses: a learner who steps back wants to look."""
        with self._cond:
            if what == "pause":
                self.auto = not self.auto
            elif what in MOVES:
                if what == BACK:
                    self.auto = False
                self._moves.append(what)
            else:
                raise ValueError(f"no tour key {what!r}; the keys: pause, {', '.join(MOVES)}")
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def wait(self, seconds: float) -> str:
        """(Lesson thread) The learner's next move: at once if one is pending, after ``seconds`` (scaled)
        in auto mode, else when a key says. Raises TourStopped once stopped."""
        deadline = time.monotonic() + seconds * self.dwell_scale
        with self._cond:
            self.waiting = True
            try:
                while True:
                    if self._stopped:
                        raise TourStopped()
                    if self._moves:
                        return self._moves.popleft()
                    if self.auto:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            return FORWARD
                        self._cond.wait(left)
                    else:
                        self._cond.wait()  # woken by press or stop
            finally:
                self.waiting = False

    def sleep(self, seconds: float) -> None:
        """(Lesson thread) Wait ``seconds`` of real time, unless stopped (moves are kept for later)."""
        deadline = time.monotonic() + seconds
        with self._cond:
            while not self._stopped:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._cond.wait(left)
            raise TourStopped()
