"""Which workspace a ``dotui`` command runs on, when ``--objects`` does not say.

In order: ``--objects DIR`` as given; an ``objects/`` folder; else the example objects bundled with dotui (``dotui.examples``), so that
an installed dotui opens on something anywhere. The data folder is ``--data`` (``./.dotui``) in
every case. O(1): a few ``stat`` calls.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .examples import OBJECTS as BUNDLED_OBJECTS


@dataclass(frozen=True)
class Workspace:
    """What the engine loads: an objects folder, or a wrangler file; ``kind`` says which and why."""

    objects: str
    kind: str  # "given" (--objects), "objects" (./objects) or "bundled"

    def notice(self, data: str) -> str | None:
        """What to tell the user about a workspace they did not name, or None."""
        if self.kind == "bundled":
            return (f"dotui: no objects/ folder or wrangler file here: opening the bundled examples "
                    f"({self.objects}); data goes to {os.path.abspath(data)}.")
        return None


def resolve(objects: str | None, cwd: str = ".") -> Workspace:
    """The workspace for ``--objects`` (None when not given) run in ``cwd``."""
    if objects is not None:
        return Workspace(objects, "given")
    local = os.path.join(cwd, "objects")
    if os.path.isdir(local):
        return Workspace(local if cwd != "." else "objects", "objects")
    return Workspace(BUNDLED_OBJECTS, "bundled")
