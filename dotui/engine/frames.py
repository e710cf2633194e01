"""The frames of the user's own code in an exception's traceback (the objects' files, the bundled
examples among them), without dotui's own frames or the event loop's.

The REPL prints them under an error (``commands/runner.py``); the history keeps the innermost one
of a failed call, so the TUI's Queue and Events tabs say where it raised (``history.ErrorNote``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
import traceback
from typing import Any

_DOTUI_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Frames inside these folders are dotui's or the event loop's, not the user's ...
_INTERNAL_DIRS = tuple(
    folder + os.sep
    for folder in (
        _DOTUI_DIR,
        os.path.dirname(os.path.abspath(asyncio.__file__)),
        os.path.dirname(os.path.abspath(concurrent.futures.__file__)),
    )
)
_INTERNAL_FILES = (os.path.abspath(threading.__file__),)
# ... except the bundled example objects, which are the user's code as much as their own would be.
_EXAMPLES_DIR = os.path.join(_DOTUI_DIR, "examples") + os.sep


def is_users(path: str) -> bool:
    """Whether a frame in the file ``path`` is the user's own code."""
    path = os.path.abspath(path)
    if path.startswith(_EXAMPLES_DIR):
        return True
    return not path.startswith(_INTERNAL_DIRS) and path not in _INTERNAL_FILES


def user_frames(exc: BaseException) -> list[dict[str, Any]]:
    """``{file, line, function, code}`` of each frame of the user's code, outermost first. O(frames)."""
    return [
        {"file": fs.filename, "line": fs.lineno, "function": fs.name, "code": fs.line or ""}
        for fs in traceback.extract_tb(exc.__traceback__)
        if is_users(fs.filename)
    ]


def innermost(exc: BaseException) -> dict[str, Any] | None:
    """``{file, line, function}`` of the user's frame where ``exc`` was raised, or None. O(frames)."""
    frames = user_frames(exc)
    if not frames:
        return None
    last = frames[-1]
    return {"file": last["file"], "line": last["line"], "function": last["function"]}
