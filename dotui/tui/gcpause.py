"""When the garbage collector runs while the TUI starts (a policy, apart from the screen).

Until the first full listing is in, what is built (the app, the rows, the
engine's index) lives as long as the app, and at 100,000 objects each full
collection pass over it costs ~100 ms: collection is paused until the listing
is applied (or ``PAUSE_AT_MOST`` seconds), and a listing of ``FREEZE_AT`` rows
or more moves that long-lived heap out of the collector's reach (``gc.freeze``),
so its full passes stop scanning it (100+ ms pauses at 10,000 instances
otherwise, measured by bench/tui.py).
"""

from __future__ import annotations

import gc

FREEZE_AT = 2000  # rows in the first full listing from which the startup heap is frozen
PAUSE_AT_MOST = 5.0  # seconds the collector may stay paused waiting for the first listing


class StartupGC:
    """Pauses collection from construction until ``listed()`` or ``resume()``."""

    def __init__(self) -> None:
        self.paused = gc.isenabled()
        self.frozen = False
        if self.paused:
            gc.disable()

    def listed(self, rows: int) -> None:
        """A full listing of ``rows`` rows was applied."""
        if not self.frozen and rows >= FREEZE_AT:
            self.frozen = True
            gc.freeze()
        self.resume()

    def resume(self) -> None:
        if self.paused:
            self.paused = False
            gc.enable()
