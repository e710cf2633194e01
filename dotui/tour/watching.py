"""Reading one object's events during a lesson: what was held, what a commit released."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..ops import EngineFacade


class EventLog:
    """The events of one object (and of the ``also`` engine-wide types) from now on."""

    def __init__(self, facade: EngineFacade, namespace: str, ref: str, also: tuple[str, ...] = ()):
        self.hex = facade.resolve(namespace, ref)["id"]
        self.namespace = namespace
        self.also = also
        self._sub = facade.subscribe()
        self.events: list[dict[str, Any]] = []

    def _read(self) -> None:
        for ev in self._sub.drain():
            mine = ev.get("namespace") == self.namespace and ev.get("id") == self.hex
            if mine or ev.get("type") in self.also:
                self.events.append(ev)

    def seen(self, type_: str) -> bool:
        self._read()
        return any(e["type"] == type_ for e in self.events)

    def wait_for(self, done: Callable[[list[dict[str, Any]]], bool], limit: float = 10.0) -> bool:
        deadline = time.monotonic() + limit
        while True:
            self._read()
            if done(self.events):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)

    def released_by_commit(self, method: str) -> list[int]:
        """For each commit of this object that released results: how many calls of ``method`` it released.

        A held call finishes right after the commit that made its writes durable, so the calls that finish
        after a commit (and before the next) are the ones it released.
        """
        groups: list[int] = []
        held: set[Any] = set()
        for ev in self.events:
            if ev["type"] == "call.held":
                held.add(ev.get("call"))
            elif ev["type"] == "commit":
                groups.append(0)
            elif ev["type"] == "call.finished" and ev.get("method") == method and ev.get("call") in held:
                if not groups:
                    groups.append(0)
                groups[-1] += 1
        return [n for n in groups if n]

    def close(self) -> None:
        self._sub.close()
