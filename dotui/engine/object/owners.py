"""Who is writing: the call (or task) a storage write or a transaction belongs to, in words.

Both storage backends ask this module, so a transaction undoes only its own call's writes
and an error names the call it is about (README, "Storage").
"""

from __future__ import annotations

import asyncio
from typing import Any

_current_call: Any = None


def owner() -> Any:
    """Who is writing: the running call, else the running task (a constructor's, say), else None."""
    global _current_call
    if _current_call is None:
        from .instance import current_call  # instance.py imports this module

        _current_call = current_call
    call = _current_call.get()
    if call is not None:
        return call
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


def awaited(coro: Any) -> str:
    """What a method's coroutine awaits directly, in its own words (for error messages)."""
    inner = getattr(coro, "cr_await", None)
    code = getattr(inner, "cr_code", None) or getattr(inner, "gi_code", None)
    if code is None:
        return "a Future or Task" if type(inner).__name__ == "FutureIter" else type(inner).__name__
    frame = getattr(inner, "cr_frame", None) or getattr(inner, "gi_frame", None)
    module = frame.f_globals.get("__name__", "") if frame is not None else ""
    if module.startswith("asyncio"):
        return f"asyncio.{code.co_name}"
    if code.co_qualname == "Engine.call":
        return "a call to another object"
    return code.co_qualname


def finished(owner: Any) -> bool:
    """Whether the call (or task) that owned a transaction can run no more code."""
    done = getattr(owner, "done", None)
    if callable(done):
        return done()
    return getattr(getattr(owner, "status", None), "value", None) in ("done", "failed")


def who(owner: Any) -> str:
    seq = getattr(owner, "seq", None)
    if seq is None:
        return "code outside any call (the engine, or a task)"
    inst = getattr(owner, "instance", None)
    ns = getattr(getattr(inst, "ns", None), "name", None)
    if getattr(owner, "kind", None) == "init":
        return f"the constructor of {ns}"
    return f"call #{seq} ({ns}.{owner.method})" if ns else f"call #{seq} ({owner.method})"
