"""The TUI's only way to the engine: work on daemon threads of its own, answered as futures.

A user's method that never awaits (``time.sleep(3)``) holds the engine's
thread, and every facade call waits behind it. The UI thread therefore never
calls the facade: it submits work here and awaits the future (``await
asyncio.wrap_future(...)`` in a Textual worker). The threads are daemons of
their own, not the event loop's default executor, so a call stuck behind a
method that never returns cannot keep the app from exiting.

Two lanes: ``poll`` (one thread, the periodic refresh) and ``act`` (what the
user asked for: registry commands, each holding its thread until it is
answered), so a hibernate that waits for a long call to end never stops the
screen from refreshing. The act lane starts a thread when every one it has is
busy, up to ``MAX_ACT_THREADS``; past that, work waits its turn (O(1) a submit).
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
from collections.abc import Callable
from typing import Any

MAX_ACT_THREADS = 32  # calls the TUI can be waiting on at once (each hung call holds one)


class Lane:
    """Jobs run in order of submission on ``threads`` daemon threads, growing to ``most``."""

    def __init__(self, name: str, threads: int, most: int | None = None):
        self.name = name
        self.most = max(threads, most or threads)
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._open = 0  # jobs submitted and not yet done
        for _ in range(threads):
            self._spawn()

    def _spawn(self) -> None:
        t = threading.Thread(target=self._serve, name=f"{self.name}-{len(self._threads)}", daemon=True)
        self._threads.append(t)
        t.start()

    def _serve(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            fut, fn, args = job
            if fut.set_running_or_notify_cancel():
                try:
                    fut.set_result(fn(*args))
                except BaseException as exc:  # noqa: BLE001 - handed to whoever awaits the future
                    fut.set_exception(exc)
            with self._lock:
                self._open -= 1

    @property
    def threads(self) -> int:
        return len(self._threads)

    def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future:
        fut: concurrent.futures.Future = concurrent.futures.Future()
        with self._lock:
            self._open += 1
            if self._open > len(self._threads) < self.most:
                self._spawn()
            self._jobs.put((fut, fn, args))
        return fut

    def stop(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)


class Lanes:
    """Runs facade calls and commands off the UI thread: the one crossing from the UI to the engine."""

    def __init__(self, act_threads: int = 3, most: int = MAX_ACT_THREADS):
        self._poll = Lane("dotui-tui-poll", 1)
        self._act = Lane("dotui-tui-act", act_threads, most)

    def poll(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future:
        return self._poll.submit(fn, *args)

    def act(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future:
        return self._act.submit(fn, *args)

    @property
    def act_threads(self) -> int:
        return self._act.threads

    def stop(self) -> None:
        self._poll.stop()
        self._act.stop()
