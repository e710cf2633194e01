"""One refresh of the TUI, run on the poll lane: what it asks for and what the engine answered.

``poll(facade, req)`` runs on a lane thread (``lanes.py``) and returns a
``Snapshot``: stats, the touched (or all) instances, the selected object's
detail. ``Refresh`` (refresh.py) decides what the next ``PollRequest`` asks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..engine.rows import InstanceRow
from ..ops import EngineFacade
from .model import Key, Row, rows_from_table


@dataclass
class PollRequest:
    """What one refresh asks the engine for."""

    full: bool = False  # every instance (else only ``keys``)
    keys: list[tuple[Key, str]] = field(default_factory=list)  # (key, ref)
    namespaces: bool = False
    selected: Key | None = None
    selected_ref: str | None = None
    want_queue: bool = False
    want_storage: bool = False
    sockets: bool = False  # the screen shows open WebSockets: ask for their counts even if none are left


@dataclass
class Detail:
    key: Key
    info: InstanceRow | None = None
    queue: list[dict[str, Any]] | None = None
    history: list[dict[str, Any]] | None = None
    storage: dict[str, Any] | None = None
    storage_error: str | None = None
    error: str | None = None


@dataclass
class Snapshot:
    rows: dict[Key, Row] | None = None  # every instance by key (``lean``), when asked
    changed: list[InstanceRow] = field(default_factory=list)
    stats: dict[str, Any] | None = None
    namespaces: list[dict[str, Any]] | None = None
    load_errors: list[str] | None = None
    detail: Detail | None = None
    sockets: dict[Key, int] | None = None  # open WebSockets per object, while any are open or shown
    t: float = 0.0
    took: float = 0.0
    error: str | None = None


# Above this many touched objects, one listing of all is cheaper than one answer each.
FULL_LISTING_AT = 2000


def poll(facade: EngineFacade, req: PollRequest) -> Snapshot:
    """(Thread) One refresh: stats, the touched or all instances, the selected object's detail."""
    t0 = time.perf_counter()
    snap = Snapshot(t=time.time())
    try:
        snap.stats = facade.stats()
        if req.namespaces:
            snap.namespaces = facade.namespaces()
            snap.load_errors = facade.load_errors()
        if req.full or len(req.keys) > FULL_LISTING_AT:
            snap.rows = full_listing(facade)
        elif req.keys:
            snap.changed = facade.instances_of([list(key) for key, _ref in req.keys])
        if req.sockets or snap.stats.get("websockets"):
            snap.sockets = {(ns, hx): n for ns, hx, n in facade.websocket_counts()}
        if req.selected is not None and req.selected_ref is not None:
            snap.detail = _detail(facade, req, req.selected, req.selected_ref)
    except Exception as exc:  # noqa: BLE001 - shown in the header; the next refresh tries again
        snap.error = f"{type(exc).__name__}: {exc}"
    snap.took = time.perf_counter() - t0
    return snap


def full_listing(facade: EngineFacade) -> dict[Key, Row]:
    """(Thread) Every instance by key, rows made ``lean`` here rather than on the UI thread.

    From ``instance_table`` (hibernated objects as one list per field): at 100,000 objects
    it costs a fraction of ``instances()``, which builds and orders a full dict per object.
    """
    return rows_from_table(facade.instance_table())


def _detail(facade: EngineFacade, req: PollRequest, key: Key, ref: str) -> Detail:
    """The detail of the selected object ``key``, named ``ref`` as the engine resolves it."""
    ns, _ = key
    d = Detail(key)
    try:
        d.info = facade.instance(ns, ref)
        if req.want_queue:
            d.queue = facade.queue(ns, ref)
            d.history = facade.history(ns, ref, 30)
    except Exception as exc:  # noqa: BLE001 - shown in the object view; the next refresh tries again
        d.error = f"{type(exc).__name__}: {exc}"
        return d
    if req.want_storage:
        try:
            d.storage = facade.read_storage(ns, ref)
        except Exception as exc:  # noqa: BLE001 - e.g. an unreadable checkpoint: say which file
            d.storage_error = f"{type(exc).__name__}: {exc}"
    return d
