"""The Worker's requests as the front ends see them: each one a call, with the object calls it made.

``dotui serve`` (``server/worker.py``) makes a ``WorkerRequest`` for every request the project's
Worker answers and runs the Worker's ``fetch`` with it as ``current`` (a ContextVar: it follows the
Worker's own awaits and the tasks it starts, and never reaches an object, whose calls each run in a
context of their own). Every call the Worker makes through a stub (``bindings.py``: RPC and
``stub.fetch``) is noted on it. When the answer leaves, the request is published as a
``worker.request`` event (``watch``, the TUI's Events tab of each object it called) and kept in its
project's ``RequestLog`` (``requests [N]`` in the REPL and ``-c``, ``--json``).

Bounds: a request notes at most ``CALLS_KEPT`` calls (then counts the rest), a log keeps the last
``KEPT`` requests. Each note is O(1); ``last(n)`` is O(n).
"""

from __future__ import annotations

import contextvars
import itertools
import os
import time
from collections import deque
from typing import Any

CALLS_KEPT = 50  # calls one request lists; past it, a count of the others
KEPT = 200  # requests a project's log keeps, newest last

current: contextvars.ContextVar[WorkerRequest | None] = contextvars.ContextVar("dotui_worker_request", default=None)
_seq = itertools.count(1)


class WorkerRequest:
    """One request to the Worker: what came in, what it answered, the object calls it made."""

    __slots__ = ("seq", "method", "path", "started_at", "status", "run_time", "error", "calls", "more_calls", "_t0")

    def __init__(self, method: str, path: str):
        self.seq = next(_seq)
        self.method, self.path = method, path
        self.started_at = time.time()
        self._t0 = time.perf_counter()
        self.status: int | None = None
        self.run_time: float | None = None
        self.error: str | None = None
        self.calls: list[dict[str, Any]] = []
        self.more_calls = 0

    def note_call(self, namespace: str, oid: Any, method: str, started: float, error: BaseException | None) -> None:
        """A call the Worker made through a stub has ended (``started``: its ``perf_counter``). O(1)."""
        if len(self.calls) >= CALLS_KEPT:
            self.more_calls += 1
            return
        call: dict[str, Any] = {
            "namespace": namespace,
            "id": oid.hex,
            "name": oid.name,
            "method": method,
            "ok": error is None,
            "run_time": time.perf_counter() - started,
        }
        if error is not None:
            call["error"] = {"type": type(error).__name__, "message": str(error)[:1024]}
        self.calls.append(call)

    def finish(self, status: int, error: str | None = None) -> None:
        self.status, self.error = status, error
        self.run_time = time.perf_counter() - self._t0

    def describe(self) -> dict[str, Any]:
        """The request as the event and ``requests`` carry it (JSON)."""
        out: dict[str, Any] = {
            "request": self.seq,
            "method": self.method,
            "path": self.path,
            "started_at": self.started_at,
            "status": self.status,
            "run_time": self.run_time,
            "calls": list(self.calls),
        }
        if self.more_calls:
            out["more_calls"] = self.more_calls
        if self.error:
            out["error"] = self.error
        return out


def note_call(namespace: str, oid: Any, method: str, started: float, error: BaseException | None) -> None:
    """Note a stub call on the Worker request running now, if any (an object's own calls are not)."""
    request = current.get()
    if request is not None:
        request.note_call(namespace, oid, method, started, error)


class RequestLog:
    """The last ``KEPT`` requests of one project's Worker, newest last."""

    def __init__(self, kept: int = KEPT):
        self._requests: deque[WorkerRequest] = deque(maxlen=kept)

    def add(self, request: WorkerRequest) -> None:
        self._requests.append(request)

    def last(self, n: int) -> list[dict[str, Any]]:
        if n <= 0:
            return []
        return [r.describe() for r in list(self._requests)[-n:]]

    def __len__(self) -> int:
        return len(self._requests)


_logs: dict[str, RequestLog] = {}  # wrangler file (absolute) -> its Worker's requests


def log_of(objects: str) -> RequestLog:
    """The request log of the project whose wrangler file is ``objects`` (an engine's ``objects_dir``)."""
    key = os.path.abspath(objects)
    log = _logs.get(key)
    if log is None:
        log = _logs[key] = RequestLog()
    return log
