"""The TUI's refresh protocol, apart from the widgets: what to poll, folding events, applying snapshots.

No Textual here. ``Refresh`` holds what the screen knows about the engine (the
instance rows, the event fold, the namespaces, the stats, the detail of the
selected object) and decides what the next poll asks for. The main screen
feeds it events and snapshots and draws what ``apply`` says changed; tests
drive it directly, as they drive ``model.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..present.workers import touched
from .model import EngineWatch, InstanceRows, Key, Rate, ref_of
from .snapshot import Detail, PollRequest, Snapshot

FULL_EVERY = 60.0  # seconds between full listings, a safety net for what no event announces


@dataclass
class Folded:
    """What one batch of events means for the screen."""

    shown_events: list[dict[str, Any]] = field(default_factory=list)  # the selected object's, for its Events tab


@dataclass
class Applied:
    """What one snapshot changed, for the screen to draw."""

    changed: set[Key] = field(default_factory=set)  # rows to repaint
    listed: int | None = None  # rows in a full listing, if this was one
    busy: str | None = None  # the header's warning (None: clear it)
    new_load_errors: list[str] = field(default_factory=list)  # to tell the user once
    namespaces_changed: bool = False
    stats_changed: bool = False
    rate: float = 0.0
    show_selected: bool = False  # the selected object's title and methods
    detail: Detail | None = None  # the selected object's detail, merged with what was known


class Refresh:
    """One screen's view of the engine, and the protocol keeping it fresh."""

    def __init__(self, clock: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic):
        self.rows = InstanceRows()
        self.watch = EngineWatch(clock=clock)
        self.rate = Rate()
        self.monotonic = monotonic
        self.namespaces: dict[str, dict[str, Any]] = {}
        self.load_errors: list[str] = []
        self.stats: dict[str, Any] = {}
        self.shown: Key | None = None  # the instance the object view shows
        self.detail: Detail | None = None
        self.refreshes = 0  # snapshots applied (tests wait on it)
        self.last_snapshot: Snapshot | None = None
        self._touched: set[Key] = set()
        self._need_full = True
        self._need_namespaces = True
        self._need_detail = True
        self._last_full = 0.0

    # ------------------------------------------------------------ asking
    def want(self, *, full: bool = False, detail: bool = False, namespaces: bool = False) -> None:
        """Ask for more in the next poll: every instance, the selected object's detail, the classes."""
        self._need_full = self._need_full or full
        self._need_detail = self._need_detail or detail
        self._need_namespaces = self._need_namespaces or namespaces

    def show(self, key: Key | None) -> bool:
        """Select ``key`` for the object view; True if that changed the selection."""
        if key == self.shown:
            return False
        self.shown = key
        self.detail = None
        self._need_detail = True
        return True

    def fold(self, events: list[dict[str, Any]]) -> Folded:
        """Fold new events: touched objects, the call holding the engine, the selected object's events."""
        out = Folded()
        if not events:
            return out
        fold = self.watch.fold(events)
        self._touched |= fold.touched
        if fold.need_full:
            self._need_full = True
        if fold.reloaded:
            self._need_namespaces = True
        shown = self.shown
        if shown is not None and shown in fold.touched:
            self._need_detail = True
            out.shown_events = [
                ev
                for ev in events
                if (ev.get("id") == shown[1] and ev.get("namespace") == shown[0])
                or (ev.get("type") == "worker.request" and shown in touched(ev))
            ]
        return out

    def request(self, tab: str | None) -> PollRequest:
        """What the next poll asks for (``tab``: the object view's active tab); resets what it covers."""
        now = self.monotonic()
        full = self._need_full or now - self._last_full >= FULL_EVERY
        req = PollRequest(
            full=full,
            keys=[(k, "#" + k[1]) for k in self._touched],
            namespaces=self._need_namespaces,
            sockets=self.rows.has_sockets,
        )
        shown = self.shown
        if shown is not None and (self._need_detail or shown in self._touched):
            info = self.rows.rows.get(shown)
            req.selected = shown
            req.selected_ref = ref_of(info) if info else "#" + shown[1]
            req.want_queue = tab == "queue"
            req.want_storage = tab == "storage"
        self._touched = set()
        self._need_full = self._need_namespaces = self._need_detail = False
        if full:
            self._last_full = now
        return req

    # ------------------------------------------------------------ applying
    def apply(self, snap: Snapshot, req: PollRequest) -> Applied:
        """Take in one snapshot (answering ``req``); what changed, for the screen to draw."""
        self.last_snapshot = snap
        out = Applied()
        if snap.error is not None:
            out.busy = f"engine error: {snap.error}"
            # ask again for what this refresh was to bring
            self.want(full=req.full, namespaces=req.namespaces)
            self._touched |= {k for k, _ in req.keys}
        if snap.namespaces is not None:
            self.namespaces = {ns["name"]: ns for ns in snap.namespaces}
            errors = snap.load_errors or []
            if errors and errors != self.load_errors:
                out.new_load_errors = errors
            self.load_errors = errors
            out.namespaces_changed = True
        if snap.rows is not None:
            out.changed = self.rows.replace_all(snap.rows)
            out.listed = len(snap.rows)
        else:
            out.changed = self.rows.update(snap.changed)
        if snap.sockets is not None:
            out.changed |= self.rows.set_sockets(snap.sockets)
        if snap.stats is not None:
            self.stats = snap.stats
            out.stats_changed = True
            out.rate = self.rate.add(snap.t, snap.stats.get("calls", 0))
        shown = self.shown
        out.show_selected = shown is not None and (shown in out.changed or snap.namespaces is not None)
        if snap.detail is not None and snap.detail.key == shown:
            out.detail = self.take_detail(snap.detail)
        self.refreshes += 1
        return out

    def take_detail(self, detail: Detail) -> Detail:
        """The selected object's new detail, keeping what this refresh did not ask for; its row updated."""
        old = self.detail
        if old is not None and old.key == detail.key:
            if detail.queue is None:
                detail.queue, detail.history = old.queue, old.history
            if detail.storage is None and detail.storage_error is None:
                detail.storage, detail.storage_error = old.storage, old.storage_error
        self.detail = detail
        return detail

    def detail_row_changed(self, detail: Detail) -> set[Key]:
        """Fold the detail's fresh row into the rows; the keys to repaint."""
        if detail.info is not None and detail.error is None:
            return self.rows.update([detail.info])
        return set()
