"""Which workspace a ``dotui`` command runs on, when ``--objects`` does not say.

In order: ``--objects DIR`` as given (a folder, or a wrangler file); a wrangler file in the folder
(``wrangler.toml``, ``wrangler.jsonc``, ``wrangler.json``: a Cloudflare Python Workers project,
docs/cloudflare.md); an ``objects/`` folder; else the example objects bundled with dotui (``dotui.examples``), so that
an installed dotui opens on something anywhere. The data folder is ``--data`` (``./.dotui``) in
every case. O(1): a few ``stat`` calls.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .examples import OBJECTS as BUNDLED_OBJECTS
from .workers.wrangler import WRANGLER_FILES, is_wrangler_file, read_wrangler


@dataclass(frozen=True)
class Workspace:
    """What the engine loads: an objects folder, or a wrangler file; ``kind`` says which and why."""

    objects: str
    kind: str  # "given" (--objects), "wrangler", "objects" (./objects) or "bundled"

    def check(self) -> None:
        """Raise ``WranglerError`` if the workspace is a wrangler file dotui cannot run (bad usage)."""
        if os.path.isfile(self.objects) and is_wrangler_file(self.objects):
            read_wrangler(self.objects)

    def notice(self, data: str) -> str | None:
        """What to tell the user about a workspace they did not name, or None."""
        if self.kind == "bundled":
            return (
                f"dotui: no objects/ folder or wrangler file here: opening the bundled examples "
                f"({self.objects}); data goes to {os.path.abspath(data)}."
            )
        return None


def resolve(objects: str | None, cwd: str = ".") -> Workspace:
    """The workspace for ``--objects`` (None when not given) run in ``cwd``."""
    if objects is not None:
        if os.path.isdir(objects) and not os.path.isdir(os.path.join(objects, "objects")):
            for name in WRANGLER_FILES:  # --objects PROJECT_FOLDER of a wrangler project
                if os.path.isfile(os.path.join(objects, name)):
                    return Workspace(os.path.join(objects, name), "wrangler")
        return Workspace(objects, "given")
    for name in WRANGLER_FILES:
        path = os.path.join(cwd, name)
        if os.path.isfile(path):
            return Workspace(path, "wrangler")
    local = os.path.join(cwd, "objects")
    if os.path.isdir(local):
        return Workspace(local if cwd != "." else "objects", "objects")
    return Workspace(BUNDLED_OBJECTS, "bundled")
