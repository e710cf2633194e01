"""The one command registry (docs/commands.md): read a line, run it against an engine facade, return data.

Front ends (the REPL, scripts, the TUI command bar) render what ``execute``
returns; nothing here renders text or imports a UI library.

    ctx = Context(facade)
    outcome = execute(ctx, "Counter/alice.increment(5)")
    outcome.ok, outcome.result          # True, 5
"""

from . import (
    sqlcmds,  # noqa: F401 - registers sql, tables, bookmark, restore
    workercmds,  # noqa: F401 - registers requests
)
from .builtins import REGISTRY
from .parsing import ParseError, Ref, format_ref, parse_ref, parse_value
from .registry import Arg, Command, Kind, Option, Parsed, Registry
from .runner import CommandError, Context, ErrorInfo, Outcome, execute, parse_line, run

__all__ = [
    "REGISTRY",
    "Arg",
    "Command",
    "CommandError",
    "Context",
    "ErrorInfo",
    "Kind",
    "Option",
    "Outcome",
    "ParseError",
    "Parsed",
    "Ref",
    "Registry",
    "execute",
    "format_ref",
    "parse_line",
    "parse_ref",
    "parse_value",
    "run",
]
