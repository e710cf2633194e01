"""Which object started a task: the tasks an object's code starts keep it awake.

On Cloudflare an object with work still pending (a timer, an unsettled promise
handed to ``ctx.waitUntil``) is not evicted. Here the engine installs a task
factory on its loop that looks, at the moment a task is created, at the call
whose code is running (the ``current_call`` context variable, which asyncio
copies into every task, so the tasks those tasks start count too), and hands
the new task to that call's object. The object may not hibernate while one of
them is pending (README, "Semantics").

Tasks whose coroutine is the engine's own (a wake, a call to another object made
through a stub) are the engine's business, not the object's, and are not
counted. Callbacks scheduled with ``loop.call_later``/``call_soon`` are not
tasks and are not seen: wrap such work in a task, or hand it to
``ctx.wait_until``. A task factory another library installs on the same loop
is kept and called; one installed after the engine started replaces this one.
An object's task runs inside a wrapper that turns a ``SystemExit`` it raises into an
``ObjectExitError``, as for a call.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

from ..errors import contained

_ENGINE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _is_engine_code(coro: Any) -> bool:
    code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
    return code is not None and code.co_filename.startswith(_ENGINE_DIR)


async def _contained(coro: Any, where: str) -> Any:
    """``coro``, whose ``SystemExit`` becomes an ``ObjectExitError``: raised by a task, it would
    stop the engine's loop (docs/trust.md, "Imports, reloads and object code")."""
    try:
        return await coro
    except BaseException as exc:
        error = contained(exc, where)
        if error is not exc:
            raise error from exc
        raise


async def awaited_apart(awaitable: Any, where: str) -> Any:
    """Await an object's ``awaitable`` in a task of its own (a nested ``block_concurrency_while``),
    so that a chain of them costs no stack: awaited inline, each adds its frames to one coroutine
    chain that Python's recursion limit ends a few hundred deep. The task is the engine's (this
    coroutine is engine code), not tracked as the object's, with its ``SystemExit`` contained.

    The task is awaited through a future of its own: cancelling a task cancels what it awaits
    at once, so a task awaiting a task awaiting ... would recurse through the whole chain.
    Cancelled, this cancels the task and waits for it to end before raising, so a chain unwinds
    innermost first, as it would inline: one level a loop turn. O(1) a level."""
    task = asyncio.ensure_future(_contained(awaitable, where))
    done = task.get_loop().create_future()

    def settle(_: asyncio.Future) -> None:
        if not done.done():  # cancelled with this coroutine
            done.set_result(None)

    task.add_done_callback(settle)
    try:
        await done
    except asyncio.CancelledError:
        task.cancel()
        await asyncio.wait((task,))
        raise
    return task.result()


def ensure_installed(loop: asyncio.AbstractEventLoop, owner: Callable[[], Any]) -> None:
    """Make ``loop`` hand each task to ``owner()``'s ``track`` (an Instance, or None); once per loop."""
    previous = loop.get_task_factory()
    if getattr(previous, "dotui_tracks", False):
        return

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Future:
        inst = owner()
        mine = inst is not None and not _is_engine_code(coro)
        if mine:
            coro = _contained(coro, f"a task {inst.ns.name} {inst.label} started")
        if previous is not None:
            task = previous(loop, coro, **kwargs)
        else:
            task = asyncio.Task(coro, loop=loop, **kwargs)
        if mine:
            inst.track(task)
        return task

    factory.dotui_tracks = True  # type: ignore[attr-defined]  # a mark on the factory function, read by getattr
    loop.set_task_factory(factory)
