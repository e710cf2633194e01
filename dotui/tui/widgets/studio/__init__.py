"""The storage studio of SQLite-backed objects (docs/sqlite.md, "The storage studio")."""

from .grid import RowGrid
from .studio import StudioView

__all__ = ["RowGrid", "StudioView"]
