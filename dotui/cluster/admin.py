"""The operations over a cluster: the table (``ops/facade.py``), fanned out and merged.

``ClusterAdmin`` implements every operation of ``OPERATIONS`` with the same
parameters and answers, so the gateway serves it unchanged and ``RemoteEngine``
(the REPL's and the TUI's ``--connect``) drives a cluster as it drives one engine:

- an operation on one object (one naming ``namespace`` and ``ref``: ``call``, ``storage``,
  ``alarm_set``, ...) goes to the shard that owns it, with nothing written here for it
  (``ON_ONE_OBJECT``, read from the table); a ``#hex`` prefix is looked up on every shard first;
- listings (``instances``, ``instance_table``, ``instances_of``) are merged from every
  shard, in the engine's order, each row (``engine/rows.py``) with one field more: its
  ``shard`` (and ``instance_table``'s hibernated columns with a ``shard`` column);
- counts and ``stats`` are summed, ``stats`` also per shard (``per_shard``);
- events are every shard's, each with its ``shard`` (``Cluster.events``).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
from collections.abc import Callable
from typing import Any

from ..engine.errors import InvalidIdError, NamespaceNotFoundError
from ..engine.events import Subscription
from ..engine.ids import IdFactory, ObjectId
from ..engine.rows import InstanceRow, InstanceTable
from ..ops.admin import Admin, at_least, key_pairs
from ..ops.codec import ClientFault
from ..ops.facade import OPERATIONS
from ..ops.table import check_implements
from .placement import shard_of
from .runtime import Cluster

_WITH_ROW = ("instance", "wake")  # their answer is a row: it says its shard


class NoWebSockets:
    """A cluster's gateway holds no WebSockets yet (docs/cluster.md): opening one is refused, clearly."""

    def drop_all(self, peers: set) -> None:
        pass

    async def open(self, namespace: str, oid: Any, request: Any, peer: Any) -> Any:
        raise ClientFault(
            ValueError(
                "WebSockets are not served over a cluster yet (docs/cluster.md); serve the objects that "
                "accept WebSockets from a single engine (dotui serve without --cluster)"
            )
        )


class ClusterView:
    """What the gateway asks of ``admin.engine``: the namespaces' ids, folders, load errors."""

    def __init__(self, cluster: Cluster, namespaces: list[dict[str, Any]], info: dict[str, Any]):
        self.cluster = cluster
        self.data_dir = cluster.root
        self.objects_dir = info["objects_dir"]
        self.load_errors = list(info["load_errors"])
        self._namespaces = namespaces
        self._ids = {ns["name"]: IdFactory(ns["name"]) for ns in namespaces}
        self.websockets = NoWebSockets()

    def namespaces(self) -> list[dict[str, Any]]:
        return self._namespaces

    def namespace(self, name: str) -> _Ids:
        ids = self._ids.get(name)
        if ids is None:
            raise NamespaceNotFoundError(name, list(self._ids), self.load_errors)
        return _Ids(ids)


class _Ids:
    """A namespace's ids, spelled as ``engine.Namespace`` spells them."""

    def __init__(self, ids: IdFactory):
        self._ids = ids

    def id_from_name(self, name: str) -> ObjectId:
        return self._ids.from_name(name)

    def id_from_string(self, text: str) -> ObjectId:
        return self._ids.from_string(text)


def _one_object(name: str) -> Callable:
    """``ClusterAdmin.<name>``: ``Admin.<name>`` with the same signature, sent to the owning shard."""
    sig = inspect.signature(getattr(Admin, name))

    @functools.wraps(getattr(Admin, name))  # its name, doc and (through __wrapped__) signature
    async def operation(self: ClusterAdmin, *args: Any, **kwargs: Any) -> Any:
        bound = sig.bind(self, *args, **kwargs)
        bound.apply_defaults()
        params = dict(bound.arguments)
        del params["self"]
        shard, params["ref"] = await self.home(params["namespace"], params["ref"])
        answer = await self.cluster.op(shard, name, **params)
        return {**answer, "shard": shard} if name in _WITH_ROW else answer

    operation.__qualname__ = name
    return operation


def _total(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for row in rows:
        for k, v in row.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                out[k] = out.get(k, 0) + v
    return out


def _order(row: InstanceRow) -> tuple:
    return (row["namespace"], row.get("name") is None, row.get("name") or "", row["id"])


class ClusterAdmin(Admin):
    """``Admin``'s operations over every shard of a started ``Cluster``; call them on the driver's loop."""

    def __init__(self, cluster: Cluster, view: ClusterView):
        # The view is no Engine: it serves what the gateway reads of ``admin.engine`` (ids, folders, load
        # errors), and every operation that would read the engine is overridden here (check_implements).
        super().__init__(view)  # type: ignore[arg-type]  # the view is no Engine: see the comment above
        self.cluster = cluster
        self.shards = cluster.shards

    @classmethod
    async def over(cls, cluster: Cluster) -> ClusterAdmin:
        info = await cluster.op(0, "info")
        namespaces = await cluster.op(0, "namespaces")
        return cls(cluster, ClusterView(cluster, namespaces, info))

    async def _every(self, name: str, **kwargs: Any) -> list[Any]:
        return list(await asyncio.gather(*(self.cluster.op(i, name, **kwargs) for i in range(self.shards))))

    # ------------------------------------------------------------ helpers (not operations)
    async def home(self, namespace: str, ref: str) -> tuple[int, str]:
        """The shard owning ``ref``, and ``ref`` as that shard can resolve it alone."""
        oid = self.engine.namespace(namespace)  # NamespaceNotFoundError for an unknown class
        if not ref.startswith("#"):
            return shard_of(oid.id_from_name(ref).hex, self.shards), ref
        prefix = ref[1:].lower()
        if len(prefix) == 64:
            return shard_of(oid.id_from_string(prefix).hex, self.shards), ref
        found = await asyncio.gather(
            *(self.cluster.op(i, "resolve", namespace=namespace, ref=ref) for i in range(self.shards)),
            return_exceptions=True,
        )
        hits = [r["id"] for r in found if isinstance(r, dict)]
        if len(hits) > 1:
            raise InvalidIdError(f"{len(hits)} {namespace} objects have ids starting with {prefix!r}; give more digits")
        if hits:
            return shard_of(hits[0], self.shards), "#" + hits[0]
        for r in found:
            if isinstance(r, BaseException) and not (isinstance(r, InvalidIdError) and "no " in str(r)):
                raise r  # an ambiguous prefix on one shard, or a shard that did not answer
        raise InvalidIdError(f"no {namespace} object has an id starting with {prefix!r}")

    def target(self, namespace: str, ref: str) -> ObjectId:
        raise NotImplementedError("a cluster resolves references on their shard: use home()")

    async def call_id(self, namespace: str, oid: ObjectId, method: str, args: list | tuple, kwargs: dict) -> Any:
        shard = shard_of(oid.hex, self.shards)
        return await self.cluster.call_id(shard, namespace, oid.hex, oid.name, method, list(args), kwargs)

    async def call(
        self, namespace: str, ref: str, method: str, args: list | None = None, kwargs: dict | None = None
    ) -> Any:
        """``Admin.call``, sent with the other calls to its shard of this moment (``ShardChannel``)."""
        shard, ref = await self.home(namespace, ref)
        ids = self.engine.namespace(namespace)
        if ref.startswith("#"):  # the name the shard's index knows, as Admin.call shows it
            oid = ids.id_from_string(ref[1:])
            oid.name = (await self.cluster.op(shard, "resolve", namespace=namespace, ref=ref))["name"]
        else:
            oid = ids.id_from_name(ref)
        return await self.call_id(namespace, oid, method, args or [], kwargs or {})

    # ------------------------------------------------------------ reading, merged
    async def info(self) -> dict[str, Any]:
        first = await self.cluster.op(0, "info")
        return {
            **first,
            "pid": os.getpid(),
            "data_dir": self.cluster.root,
            "cluster": {"shards": self.shards, "placement": self.cluster.placement},
        }

    async def namespaces(self) -> list[dict[str, Any]]:
        return await self.cluster.op(0, "namespaces")

    async def worker_requests(self, n: int = 20) -> list[dict[str, Any]]:
        return []  # a cluster's gateway serves no Worker (docs/cluster.md)

    async def instances(
        self, namespace: str | None = None, state: str | None = None, offset: int = 0, limit: int | None = None
    ) -> list[InstanceRow]:
        at_least("offset", offset, 0)
        if limit is not None:
            at_least("limit", limit, 0)
        upto = None if limit is None else offset + limit
        pages = await self._every("instances", namespace=namespace, state=state, offset=0, limit=upto)
        rows: list[InstanceRow] = [{**r, "shard": i} for i, page in enumerate(pages) for r in page]
        rows.sort(key=_order)
        return rows[offset:upto]

    async def instances_of(self, keys: list) -> list[InstanceRow]:
        mine: dict[int, list] = {}
        for ns, hx in key_pairs(keys):
            mine.setdefault(shard_of(hx, self.shards), []).append([ns, hx])
        pages = await asyncio.gather(*(self.cluster.op(i, "instances_of", keys=k) for i, k in mine.items()))
        return [{**r, "shard": i} for i, page in zip(mine, pages, strict=False) for r in page]

    async def count_instances(self, namespace: str | None = None) -> dict[str, int]:
        return _total(await self._every("count_instances", namespace=namespace))

    async def instance_table(self, namespace: str | None = None) -> InstanceTable:
        tables = await self._every("instance_table", namespace=namespace)
        objects: list[InstanceRow] = [{**o, "shard": i} for i, t in enumerate(tables) for o in t["objects"]]
        hibernated: dict[str, dict[str, list]] = {}
        for i, t in enumerate(tables):
            for ns, fields in t["hibernated"].items():
                merged = hibernated.setdefault(ns, {f: [] for f in [*fields, "shard"]})
                for f, values in fields.items():
                    merged[f].extend(values)
                merged["shard"].extend([i] * len(fields["id"]))
        return {"objects": objects, "hibernated": hibernated}

    async def stats(self) -> dict[str, Any]:
        each = await self._every("stats")
        return {**_total(each), "shards": self.shards, "per_shard": [{"shard": i, **s} for i, s in enumerate(each)]}

    async def websocket_counts(self, namespace: str | None = None) -> list[list[Any]]:
        return sorted(row for rows in await self._every("websocket_counts", namespace=namespace) for row in rows)

    # ------------------------------------------------------------ acting on every shard
    async def hibernate_all(self) -> int:
        return sum(await self._every("hibernate_all"))

    async def reload(self) -> list[str]:
        return sorted({e for errors in await self._every("reload") for e in errors})

    async def flush(self) -> None:
        await self._every("flush")

    async def commit_delay(self, seconds: Any) -> float:
        return (await self._every("commit_delay", seconds=seconds))[0]

    async def new_unique_id(self, namespace: str) -> dict[str, Any]:
        return await self.cluster.op(0, "new_unique_id", namespace=namespace)  # ids are no shard's own

    def subscribe(self, maxlen: int = 10_000, predicate: Callable[[dict], bool] | None = None) -> Subscription:
        return self.cluster.events.subscribe(maxlen, predicate)


# The operations on one object, named by (namespace, ref), that need no merging: sent to the shard owning it.
ON_ONE_OBJECT = tuple(name for name, op in OPERATIONS.items() if op.on_object and name not in vars(ClusterAdmin))
for _name in ON_ONE_OBJECT:
    setattr(ClusterAdmin, _name, _one_object(_name))

_missing = sorted(set(OPERATIONS) - set(vars(ClusterAdmin)))
if _missing:  # the one table: an operation on no one object needs its cluster form written above
    raise TypeError(
        f"ClusterAdmin lacks the operations {', '.join(_missing)} of the table (dotui/ops/facade.py): "
        "write how each spreads over the shards and merges"
    )
check_implements(ClusterAdmin, OPERATIONS)
