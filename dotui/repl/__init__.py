"""The prompt_toolkit REPL and the batch runner, both on the one command registry.

Rendering (rich) lives here; the registry in ``dotui.commands`` returns data only. The REPL's names
(``Repl``, ``run_repl``, ...) are imported on first use: the batch runner (``dotui -c``, ``dotui run``)
and ``dotui serve`` never load prompt_toolkit.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..present.render import Renderer, make_console
from .batch import BatchRunner, Line, lines_of

if TYPE_CHECKING:
    from .prompt import PromptCompleter, Repl, history_for, run_repl

_PROMPT_NAMES = frozenset({"PromptCompleter", "Repl", "history_for", "run_repl"})

__all__ = [
    "BatchRunner",
    "Line",
    "PromptCompleter",
    "Renderer",
    "Repl",
    "history_for",
    "lines_of",
    "make_console",
    "run_repl",
]


def __getattr__(name: str) -> Any:
    if name in _PROMPT_NAMES:
        return getattr(importlib.import_module(".prompt", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
