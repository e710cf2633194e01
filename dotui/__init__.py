"""dotui: a local Durable Objects engine for Python, with a TUI and a REPL to watch it work."""

from .engine import *  # noqa: F401,F403
from .engine import __all__  # noqa: F401

__version__ = "0.1.0"
