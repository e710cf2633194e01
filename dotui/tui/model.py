"""What the TUI knows about the engine, apart from how it is drawn.

No Textual here: the instance rows (sorted, filtered, diffed by key), the fold
of the event stream (which call holds the engine, calls per second, each
object's recent events). Times and sizes are formatted by ``dotui.present``. The widgets read
these; tests and ``bench/tui.py`` drive them directly.
"""

from __future__ import annotations

import bisect
import itertools
import math
import operator
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from ..engine.rows import InstanceRow, InstanceTable
from ..present.formats import human_bytes, relative
from ..present.workers import touched

Key = tuple[str, str]  # (namespace, id hex)
# A row as the model keeps it: an ``InstanceRow`` made ``lean`` (``running`` a count, defaults left out),
# with the object's open WebSockets (``websockets``) when it has some.
Row = dict[str, Any]

STATE_RANK = {"busy": 0, "waking": 1, "idle": 2, "broken": 3, "hibernated": 4}


def key_of(info: Mapping[str, Any]) -> Key:
    return (info["namespace"], info["id"])


def row_state(info: Mapping[str, Any]) -> str:
    """``busy``, ``idle``, ``waking``, ``hibernated`` or ``broken``."""
    state = info.get("state")
    if state == "live":
        return "busy" if info.get("busy") else "idle"
    if state in ("waking", "broken"):
        return state
    return "hibernated"


# What a hibernated object's row holds when nothing is running, queued or held: the model
# keeps hibernated rows without these fields (read with ``.get``), so a row built from the
# engine's compact table and one the engine describes in full compare equal.
HIBERNATED_DEFAULTS: tuple[tuple[str, Any], ...] = (
    ("busy", False),
    ("queued", 0),
    ("running", 0),
    ("gate_held", False),
    ("output_held", False),
    ("calls", 0),
    ("errors", 0),
    ("pending_writes", 0),
    ("broken", None),
)


def lean(engine_row: InstanceRow) -> Row:
    """The row as the model keeps it (changed in place): ``running`` as a count, and a
    hibernated row without the fields that hold their default.

    A row holding no container is a dict the garbage collector does not track, which
    keeps its full passes short at 100,000 rows.
    """
    info = cast(Row, engine_row)  # the same dict, reshaped in place: ``running`` becomes a count
    running = info.get("running")
    if isinstance(running, list):
        info["running"] = len(running)
    if info.get("state") == "hibernated":
        for f, default in HIBERNATED_DEFAULTS:
            if f in info and info[f] == default:
                del info[f]
    return info


def rows_from_table(table: InstanceTable) -> dict[Key, Row]:
    """Every row by key, from the engine's ``instance_table()``: one small ``InstanceRow`` per
    hibernated object (its ``HIBERNATED_FIELDS``), built from its columns (no per-row function call)."""
    out: dict[Key, Row] = {}
    for ns, cols in (table.get("hibernated") or {}).items():
        out.update(
            {
                (ns, hx): {
                    "namespace": ns,
                    "id": hx,
                    "name": name,
                    "state": "hibernated",
                    "last_active": last,
                    "keys": keys,
                    "bytes": nbytes,
                    "alarm": alarm,
                }
                for hx, name, last, keys, nbytes, alarm in zip(
                    cols["id"],
                    cols["name"],
                    cols["last_active"],
                    cols["keys"],
                    cols["bytes"],
                    cols["alarm"],
                    strict=False,
                )
            }
        )
        for counter in ("calls", "errors"):  # the counters so far; a 0 is left out, as ``lean`` does
            for hx, n in zip(cols["id"], cols.get(counter) or (), strict=False):
                if n:
                    out[(ns, hx)][counter] = n
        if "shard" in cols:  # a cluster's table (docs/cluster.md)
            for hx, shard in zip(cols["id"], cols["shard"], strict=False):
                out[(ns, hx)]["shard"] = shard
    for r in table.get("objects") or ():
        row = lean(r)
        out[key_of(row)] = row
    return out


def label_of(info: Mapping[str, Any]) -> str:
    """The name of the object, or ``#`` and the start of its id when it has none."""
    name = info.get("name")
    return name if name is not None else "#" + info["id"][:12]


def ref_of(info: Mapping[str, Any]) -> str:
    """The reference the facade takes: the name, or ``#`` and the full id."""
    name = info.get("name")
    return name if name is not None else "#" + info["id"]


_get_state = operator.methodcaller("get", "state")
_get_busy = operator.methodcaller("get", "busy")


# ---------------------------------------------------------------- columns
@dataclass(frozen=True)
class Column:
    """One column of the instances table: how to show it and how to sort by it."""

    name: str
    title: str
    width: int
    sort: Callable[[dict[str, Any]], Any]
    right: bool = False
    priority: int = 0  # columns with the highest priority are dropped first when narrow
    descending: bool = False  # the natural order when first sorted by it
    # ``sort`` of many rows at once, the same values: a comprehension, not a call per row
    sort_all: Callable[[list[dict[str, Any]]], list[Any]] | None = None

    def sort_values(self, infos: list[dict[str, Any]]) -> list[Any]:
        if self.sort_all is not None:
            return self.sort_all(infos)
        sort = self.sort
        return [sort(i) for i in infos]


def _num(field: str) -> Callable[[dict[str, Any]], Any]:
    return lambda info: info.get(field) or 0


def _num_all(field: str, zero: Any = 0) -> Callable[[list[dict[str, Any]]], list[Any]]:
    get = operator.methodcaller("get", field)
    return lambda infos: [v or zero for v in map(get, infos)]


def _time(field: str) -> Callable[[dict[str, Any]], Any]:
    return lambda info: info.get(field) or 0.0


def _alarm(info: dict[str, Any]) -> float:
    a = info.get("alarm")
    return a if a is not None else math.inf


def _alarm_all(infos: list[dict[str, Any]]) -> list[float]:
    inf = math.inf
    return [inf if a is None else a for a in map(operator.methodcaller("get", "alarm"), infos)]


COLUMNS: tuple[Column, ...] = (
    Column("state", "", 2, lambda i: STATE_RANK[row_state(i)]),
    Column("namespace", "namespace", 10, lambda i: i["namespace"], priority=1),
    Column("name", "name", 14, lambda i: (i.get("name") is None, i.get("name") or i["id"])),
    Column("queued", "queue", 5, _num("queued"), right=True, descending=True, sort_all=_num_all("queued")),
    Column("calls", "calls", 6, _num("calls"), right=True, descending=True, priority=2, sort_all=_num_all("calls")),
    Column("errors", "err", 4, _num("errors"), right=True, descending=True, priority=4, sort_all=_num_all("errors")),
    Column(
        "last_active",
        "active",
        8,
        _time("last_active"),
        right=True,
        descending=True,
        sort_all=_num_all("last_active", 0.0),
    ),
    Column("keys", "keys", 5, _num("keys"), right=True, descending=True, priority=3, sort_all=_num_all("keys")),
    Column("bytes", "size", 8, _num("bytes"), right=True, descending=True, priority=5, sort_all=_num_all("bytes")),
    Column("alarm", "alarm", 7, _alarm, right=True, sort_all=_alarm_all),
)
# Shown only when the rows come from a cluster (docs/cluster.md): the shard owning each object.
SHARD = Column("shard", "shard", 5, _num("shard"), right=True, priority=1, sort_all=_num_all("shard"))
# Shown only while some object has a WebSocket open (README.md, "WebSockets"): hibernated
# objects keep theirs, so this is how a learner sees a sleeping object still holding clients.
SOCKETS = Column(
    "websockets",
    "sockets",
    7,
    _num("websockets"),
    right=True,
    descending=True,
    priority=1,
    sort_all=_num_all("websockets"),
)
COLUMN_BY_NAME = {c.name: c for c in (*COLUMNS, SHARD, SOCKETS)}
SORTABLE = [c.name for c in COLUMNS]


def fit_columns(width: int, sharded: bool = False, sockets: bool = False) -> list[tuple[Column, int]]:
    """The columns that fit ``width`` cells (one space between), with their widths.

    Columns are dropped by priority; what is left over widens the name column.
    ``sharded``: the rows come from a cluster, and the shard column follows the name.
    ``sockets``: some object has WebSockets open; their count follows the queue.
    """
    cols = list(COLUMNS)
    if sockets:
        cols.insert(4, SOCKETS)
    if sharded:
        cols.insert(3, SHARD)

    def total(cs: list[Column]) -> int:
        return sum(c.width for c in cs) + len(cs) - 1

    while total(cols) > width and any(c.priority for c in cols):
        cols.remove(max(cols, key=lambda c: c.priority))
    spare = max(0, width - total(cols))
    out = []
    for c in cols:
        w = c.width
        if c.name == "name":
            w += min(spare, 24)
            spare -= min(spare, 24)
        elif c.name == "namespace":
            w += min(spare, 4)
            spare -= min(spare, 4)
        out.append((c, w))
    return out


def cell_text(column: str, info: dict[str, Any], now: float) -> str:
    if column == "state":
        return ""  # drawn by the widget: glyph and gate marks
    if column == "namespace":
        return info["namespace"]
    if column == "name":
        return label_of(info)
    if column == "queued":
        q = info.get("queued") or 0
        return str(q) if q else "·"
    if column in ("calls", "errors", "keys", "websockets"):
        v = info.get(column) or 0
        return f"{v:,}" if v else "·"
    if column == "last_active":
        return relative(info.get("last_active"), now)
    if column == "bytes":
        return human_bytes(info.get("bytes"))
    if column == "alarm":
        return relative(info.get("alarm"), now)
    return str(info.get(column, ""))


# ---------------------------------------------------------------- instance rows
class _Desc:
    """Reverses the order of a value that cannot be negated (a name, a namespace)."""

    __slots__ = ("v",)

    def __init__(self, v: Any):
        self.v = v

    def __lt__(self, other: _Desc) -> bool:
        return other.v < self.v

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.v == other.v

    def __hash__(self) -> int:
        return hash(self.v)


class InstanceRows:
    """Every instance the engine reported, and the filtered, sorted view of them.

    ``update`` and ``replace_all`` diff by key and return the keys whose values
    changed, so a widget repaints only those. The view is kept sorted by a key
    tuple per row; a changed row whose sort key moved is taken out and put back
    with ``bisect`` (a burst that touches a few hundred of 10,000 rows costs
    those rows), and a new sort or filter rebuilds it once.
    """

    REBUILD_SHARE = 8  # more moved rows than 1/8 of the view: one sort is cheaper

    def __init__(self) -> None:
        self.rows: dict[Key, dict[str, Any]] = {}
        self.sort_column = "last_active"
        self.sort_reverse = True
        self.group_by_namespace = False  # G groups; by default the most recently active come first
        self.filter_text = ""
        self.namespace: str | None = None
        self._view: list[Key] = []
        self._order: list[tuple] = []  # the sort key of each row of the view, sorted
        self._okey: dict[Key, tuple] = {}  # key -> its sort key, for rows in the view
        self._pending: set[Key] = set()
        self._dirty = True
        self._match: Callable[[Key, dict[str, Any]], bool] | None = None
        self._counts = {"busy": 0, "idle": 0, "waking": 0, "hibernated": 0, "broken": 0}
        self.version = 0  # bumped whenever the view's order or membership changes
        self.sockets: dict[Key, int] = {}  # open WebSockets per object (only objects that have some)

    # --- data in
    def replace_all(self, rows: Iterable[InstanceRow] | dict[Key, Row]) -> set[Key]:
        """The engine's full list: rows not in it are removed. Returns changed keys.

        ``rows`` is a list of rows, or rows by key already ``lean`` (``rows_from_table``),
        which the model then keeps.
        """
        if isinstance(rows, dict):
            fresh = rows
        else:
            fresh = {key_of(r): r for r in map(lean, rows)}
        if not self.rows:
            # the first listing: every row is new; take them whole, count them by state, sort once
            values = fresh.values()
            seen = Counter(zip(map(_get_state, values), map(_get_busy, values), strict=False))
            for (state, busy), n in seen.items():
                self._counts[row_state({"state": state, "busy": busy})] += n
            self.rows = fresh
            for k, n in self.sockets.items():
                if k in fresh:
                    fresh[k]["websockets"] = n
            self._dirty = True
            return set(fresh)
        gone = [k for k in self.rows if k not in fresh]
        for k in gone:
            self._counts[row_state(self.rows.pop(k))] -= 1
            self._pending.add(k)
        changed = set(gone) | self._merge(fresh.values())
        return changed

    @property
    def sharded(self) -> bool:
        """The rows come from a cluster: each carries its ``shard`` (docs/cluster.md)."""
        return bool(self.rows) and "shard" in next(iter(self.rows.values()))

    @property
    def has_sockets(self) -> bool:
        """Some object has WebSockets open (the table shows their count)."""
        return bool(self.sockets)

    def update(self, rows: Iterable[InstanceRow]) -> set[Key]:
        """New or changed rows; returns the keys whose values changed."""
        return self._merge(map(lean, rows))

    def set_sockets(self, counts: dict[Key, int]) -> set[Key]:
        """The open WebSockets of every object that has some; returns the keys whose count changed."""
        changed = {k for k in self.sockets.keys() | counts.keys() if self.sockets.get(k) != counts.get(k)}
        self.sockets = {k: n for k, n in counts.items() if n}
        for k in changed:
            row = self.rows.get(k)
            if row is None:
                continue
            if k in self.sockets:
                row["websockets"] = self.sockets[k]
            else:
                row.pop("websockets", None)
        changed &= self.rows.keys()
        if changed and not self._dirty:
            self._pending |= changed
        return changed

    def _merge(self, rows: Iterable[dict[str, Any]]) -> set[Key]:
        changed: set[Key] = set()
        counts = self._counts
        sockets = self.sockets
        for r in rows:
            k = key_of(r)
            if sockets and k in sockets:
                r["websockets"] = sockets[k]  # the engine's rows do not carry it
            old = self.rows.get(k)
            if old == r:
                continue
            self.rows[k] = r
            changed.add(k)
            if old is not None:
                counts[row_state(old)] -= 1
            counts[row_state(r)] += 1
        if changed and not self._dirty:
            self._pending |= changed
        return changed

    # --- view settings
    def set_sort(self, column: str, reverse: bool | None = None) -> None:
        if column not in COLUMN_BY_NAME:
            raise ValueError(f"no column {column!r}; sortable columns: {', '.join(SORTABLE)}")
        if reverse is None:
            reverse = COLUMN_BY_NAME[column].descending
        self.sort_column, self.sort_reverse = column, reverse
        self._dirty = True

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self._dirty = True

    def set_namespace(self, namespace: str | None) -> None:
        self.namespace = namespace
        self._dirty = True

    def set_grouping(self, on: bool) -> None:
        self.group_by_namespace = on
        self._dirty = True

    def _matcher(self) -> Callable[[Key, dict[str, Any]], bool] | None:
        text = self.filter_text.strip().lower()
        ns_only = self.namespace
        if not text and ns_only is None:
            return None
        ns_part = None
        if "/" in text:
            ns_part, text = text.split("/", 1)
        if text.startswith("#"):
            id_prefix, text = text[1:], ""
        else:
            id_prefix = None

        def match(k: Key, info: dict[str, Any]) -> bool:
            ns, hx = k
            if ns_only is not None and ns != ns_only:
                return False
            if ns_part and ns_part not in ns.lower():
                return False
            if id_prefix is not None:
                return hx.startswith(id_prefix)
            if not text:
                return True
            name = info.get("name")
            return (
                (name is not None and text in name.lower())
                or hx.startswith(text)
                or (ns_part is None and text in ns.lower())
            )

        return match

    def _order_key(self, k: Key, info: dict[str, Any]) -> tuple:
        v = COLUMN_BY_NAME[self.sort_column].sort(info)
        if self.sort_reverse:
            v = -v if isinstance(v, (int, float)) else _Desc(v)
        name = info.get("name")
        # ties broken by name then id, always ascending, so the order is stable
        return (k[0] if self.group_by_namespace else "", v, name if name is not None else "\uffff", k[1])

    # --- the view
    def view(self) -> list[Key]:
        """The keys shown, in order (kept sorted as rows change)."""
        if self._dirty or len(self._pending) * self.REBUILD_SHARE > max(len(self._view), 64):
            self._rebuild()
        elif self._pending:
            self._reposition()
        return self._view

    def _rebuild(self) -> None:
        self._dirty = False
        self._pending.clear()
        self._match = match = self._matcher()
        if match is None:
            keys, infos = list(self.rows), list(self.rows.values())
        else:
            kept = [(k, r) for k, r in self.rows.items() if match(k, r)]
            keys, infos = [k for k, _ in kept], [r for _, r in kept]
        # _order_key of every row, column by column: at 100,000 rows a call per row is most of the cost
        values = COLUMN_BY_NAME[self.sort_column].sort_values(infos)
        if self.sort_reverse:
            try:
                values = [-v for v in values]
            except TypeError:  # names, namespaces
                values = [-v if isinstance(v, (int, float)) else _Desc(v) for v in values]
        names = ["\uffff" if n is None else n for n in map(operator.methodcaller("get", "name"), infos)]
        groups = map(operator.itemgetter(0), keys) if self.group_by_namespace else itertools.repeat("")
        okeys = list(zip(groups, values, names, map(operator.itemgetter(1), keys), strict=False))
        perm = sorted(range(len(keys)), key=okeys.__getitem__)
        self._order = [okeys[i] for i in perm]
        self._view = [keys[i] for i in perm]
        self._okey = dict(zip(keys, okeys, strict=False))
        self.version += 1

    def _reposition(self) -> None:
        pending, self._pending = self._pending, set()
        match = self._match
        moved = False
        for k in pending:
            info = self.rows.get(k)
            new = None
            if info is not None and (match is None or match(k, info)):
                new = self._order_key(k, info)
            old = self._okey.get(k)
            if old == new:
                continue
            moved = True
            if old is not None:
                i = bisect.bisect_left(self._order, old)
                del self._order[i]
                del self._view[i]
                del self._okey[k]
            if new is not None:
                i = bisect.bisect_left(self._order, new)
                self._order.insert(i, new)
                self._view.insert(i, k)
                self._okey[k] = new
        if moved:
            self.version += 1

    def index_of(self, key: Key | None) -> int | None:
        """Where ``key`` is in the view; None if it is not shown."""
        if key is None:
            return None
        self.view()
        o = self._okey.get(key)
        if o is None:
            return None
        i = bisect.bisect_left(self._order, o)
        return i if i < len(self._view) and self._view[i] == key else None

    def counts(self) -> dict[str, int]:
        """Instances per ``row_state`` (kept as rows change: free to ask every frame)."""
        return dict(self._counts)

    def namespaces(self) -> list[str]:
        return sorted({k[0] for k in self.rows})


# ---------------------------------------------------------------- the event fold
@dataclass
class Running:
    """A call that started (or resumed) and has not yet awaited, returned or failed."""

    namespace: str
    label: str
    method: str
    since: float


@dataclass
class Commit:
    t: float
    keys: list[str]
    nbytes: int
    objects: int


@dataclass
class Fold:
    """What one drain of the event stream changed."""

    touched: set[Key] = field(default_factory=set)
    need_full: bool = False
    reloaded: bool = False
    lost: int = 0
    count: int = 0


class EngineWatch:
    """Folds the engine's events: touched objects, the call on the engine's thread, recent events.

    The engine runs every object on one thread; a method that does not await
    (``time.sleep``, a busy loop) holds that thread. The last call that started
    or resumed and has not since suspended, returned or failed is the one the
    TUI names when the engine stops answering.
    """

    RUNNING_KEPT = 1000  # calls seen starting and not yet seen ending (an event lost keeps one here)

    def __init__(self, per_object: int = 200, objects_kept: int = 2000, clock: Callable[[], float] = time.time):
        self.per_object = per_object
        self.objects_kept = objects_kept
        self.clock = clock
        # Bounded: events of the objects_kept objects seen last, per_object each; their last commit;
        # at most RUNNING_KEPT calls on the thread (the oldest go first).
        self.events: OrderedDict[Key, deque[dict]] = OrderedDict()
        self.on_thread: dict[int, Running] = {}
        self.last_commit: dict[Key, Commit] = {}
        self.total = 0

    def fold(self, events: Iterable[dict[str, Any]]) -> Fold:
        out = Fold()
        for ev in events:
            out.count += 1
            self.total += 1
            typ = ev.get("type", "")
            if typ == "events.lost":
                out.lost += ev.get("count", 0)
                out.need_full = True
                continue
            if typ in ("reload", "reset") and "id" not in ev:
                out.need_full = True
                out.reloaded = out.reloaded or typ == "reload"
                continue
            if typ == "worker.request":  # a call of the Worker: on the Events tab of each object it called
                for key in touched(ev):
                    out.touched.add(key)
                    self._remember(key, ev)
                continue
            ns, hx = ev.get("namespace"), ev.get("id")
            if ns is None or hx is None:
                if typ == "reload":
                    out.need_full = out.reloaded = True
                continue
            key = (ns, hx)
            out.touched.add(key)
            self._remember(key, ev)
            seq = ev.get("call")
            if typ in ("call.started", "call.resumed") and seq is not None:
                label = ev.get("name") or "#" + hx[:12]
                self.on_thread[seq] = Running(ns, label, ev.get("method", "?"), ev.get("t", self.clock()))
                if len(self.on_thread) > self.RUNNING_KEPT:  # its end was among events lost: O(n), rare
                    del self.on_thread[min(self.on_thread)]
            elif typ in ("call.suspended", "call.held", "call.finished") and seq is not None:
                self.on_thread.pop(seq, None)
            elif typ == "commit":
                self.last_commit[key] = Commit(
                    ev.get("t", 0.0), ev.get("keys", []), ev.get("record_bytes", 0), ev.get("objects", 1)
                )
            elif typ == "state" and ev.get("new") in ("hibernated", "broken"):
                for s in [
                    s
                    for s, r in self.on_thread.items()
                    if r.namespace == ns and r.label == (ev.get("name") or "#" + hx[:12])
                ]:
                    del self.on_thread[s]
        return out

    def _remember(self, key: Key, ev: dict[str, Any]) -> None:
        log = self.events.get(key)
        if log is None:
            log = self.events[key] = deque(maxlen=self.per_object)
            if len(self.events) > self.objects_kept:
                gone, _ = self.events.popitem(last=False)
                self.last_commit.pop(gone, None)
        else:
            self.events.move_to_end(key)
        log.append(ev)

    def blocking(self) -> Running | None:
        """The call most likely holding the engine's thread, if any."""
        if not self.on_thread:
            return None
        return self.on_thread[max(self.on_thread)]

    def events_of(self, key: Key) -> list[dict[str, Any]]:
        return list(self.events.get(key, ()))


class Rate:
    """Calls per second from the engine's call counter, one sample per refresh."""

    def __init__(self, keep: int = 60):
        self.samples: deque[float] = deque([0.0] * keep, maxlen=keep)
        self._last: tuple[float, int] | None = None

    def add(self, t: float, calls: int) -> float:
        if self._last is None or calls < self._last[1]:
            self._last = (t, calls)
            return 0.0
        t0, c0 = self._last
        if t - t0 < 0.2:
            return self.samples[-1]
        rate = (calls - c0) / (t - t0)
        self._last = (t, calls)
        self.samples.append(rate)
        return rate

    @property
    def current(self) -> float:
        return self.samples[-1]
