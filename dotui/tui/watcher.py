"""The objects folder, watched: which ``.py`` files changed since the last look (mtime polling).

As ``wrangler dev`` reloads on save, the TUI reloads the classes when a file
of the objects folder is saved. ``FolderWatcher.changed()`` is called about
once a second; the first look only takes note.
"""

from __future__ import annotations

import os


class FolderWatcher:
    """The ``.py`` files of one folder, by (mtime, size)."""

    def __init__(self, folder: str | None):
        self.folder = folder
        self._marks: dict[str, tuple[int, int]] | None = None

    def _look(self) -> dict[str, tuple[int, int]] | None:
        if not self.folder or not os.path.isdir(self.folder):
            return None
        marks = {}
        try:
            with os.scandir(self.folder) as it:
                for entry in it:
                    if entry.name.endswith(".py") and entry.is_file():
                        st = entry.stat()
                        marks[entry.name] = (st.st_mtime_ns, st.st_size)
        except OSError:
            return None
        return marks

    def changed(self) -> list[str]:
        """The files added, removed or saved since the last call (none on the first)."""
        marks = self._look()
        if marks is None:
            return []
        old, self._marks = self._marks, marks
        if old is None or marks == old:
            return []
        return sorted(n for n in set(marks) | set(old) if marks.get(n) != old.get(n))
