"""The operations a facade has sent to its event loop and not yet seen answered.

Both facades run their work on a loop of their own thread (LocalEngine the engine's, RemoteEngine
its client's). When that loop ends, nothing still waiting will ever be answered: each waiting
future fails at once, so no caller (a REPL line, a TUI worker thread) waits for good, and what is
sent after is refused. The set holds what callers have in flight, no more. O(1) a send, O(waiting)
at the end.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any


class Waiting:
    def __init__(self) -> None:
        self._futures: set[concurrent.futures.Future] = set()
        self._lock = threading.Lock()

    def send(
        self, coro: Coroutine[Any, Any, Any], loop: asyncio.AbstractEventLoop, refusal: Callable[[], Exception | None]
    ) -> concurrent.futures.Future:
        """``coro`` on ``loop``, as a future; ``refusal()`` (asked under the same lock as ``end``), if it
        names an error, is raised instead and ``coro`` closed unrun."""
        with self._lock:
            refused = refusal()
            if refused is not None:
                coro.close()
                raise refused
            fut = asyncio.run_coroutine_threadsafe(coro, loop)
            self._futures.add(fut)
        fut.add_done_callback(self._answered)
        return fut

    def _answered(self, fut: concurrent.futures.Future) -> None:
        with self._lock:
            self._futures.discard(fut)

    def end(self, error: Exception, mark: Callable[[], None]) -> None:
        """The loop has ended: ``mark()`` (so ``refusal`` refuses from now on), then every future
        still waiting fails with ``error``."""
        with self._lock:
            mark()
            waiting, self._futures = self._futures, set()
        for fut in waiting:
            if not fut.done():
                try:
                    fut.set_exception(error)
                except concurrent.futures.InvalidStateError:  # answered or cancelled just now
                    pass
