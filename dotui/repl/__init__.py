"""The prompt_toolkit REPL and the batch runner, both on the one command registry.

Rendering (rich) lives here; the registry in ``dotui.commands`` returns data only.
"""

from ..present.render import Renderer, make_console
from .batch import BatchRunner, Line, lines_of
from .prompt import PromptCompleter, Repl, history_for, run_repl

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
