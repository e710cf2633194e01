"""The two asyncio internals of CPython the engine relies on, in this one module.

Neither is public API, so each is read here only, and ``tests/test_loop_internals.py``
checks that it still behaves as relied on: if a Python release changes one, that test
fails, naming it, instead of the engine quietly losing what it gives.

- ``ready_queue(loop)``: the deque of callbacks ready to run (``BaseEventLoop._ready``).
  The committer (``durability/committer.py``, ``commit_if_alone``) looks at it to commit a
  lone caller's write in the caller's own turn instead of a turn of the loop later. A loop
  without one (uvloop) gets ``None``, and the committer then always commits at the end of
  the loop's iteration: correct, one turn slower for a lone caller (bench/README.md).
- ``release_yielded(yielded)``: a future a task's coroutine handed to the task at an
  ``await`` is marked as awaited (``Future._asyncio_future_blocking``); the storage API
  (``object/storage.py``), refusing an await inside a transaction, clears the mark so the
  same future can be awaited again. Every loop's futures share this protocol (uvloop uses
  asyncio's ``Future``); an object without the mark is left as it is.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any


def ready_queue(loop: asyncio.AbstractEventLoop) -> deque | None:
    """The loop's queue of ready callbacks, or None if it keeps none this module can read. O(1)."""
    ready = getattr(loop, "_ready", None)
    return ready if isinstance(ready, deque) else None


def release_yielded(yielded: Any) -> None:
    """``yielded`` (what a coroutine handed to its task at an await) no longer blocks that task, so
    it may be awaited again. O(1)."""
    if getattr(yielded, "_asyncio_future_blocking", False):
        yielded._asyncio_future_blocking = False
