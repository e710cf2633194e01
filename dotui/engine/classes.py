"""The classes an engine serves (the one owner of them): each namespace's loaded class, the files
of the objects folder that failed to load, and the namespace handles handed out (``env.Counter``).

The objects folder is imported on a thread, each file within ``import_timeout`` seconds
(loader.py), so an import that blocks stalls no object; reloads run one at a time
(``reloading``). The maps are updated in place, so every read-only view of them (``infos``,
``handles``) sees the classes served now.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from types import MappingProxyType
from typing import TYPE_CHECKING

from .errors import NamespaceNotFoundError
from .loader import LoadError, NamespaceInfo, check_backends, load_objects

if TYPE_CHECKING:
    from .durability.index import Index
    from .object.stubs import Namespace

log = logging.getLogger("dotui")


class Classes:
    """``handle(name)`` makes the namespace handle of a class served (object/stubs.py)."""

    def __init__(self, objects_dir: str, data_dir: str, import_timeout: float, handle: Callable[[str], Namespace]):
        self.objects_dir = objects_dir
        self.data_dir = data_dir
        self.import_timeout = import_timeout
        self._make_handle = handle
        self._infos: dict[str, NamespaceInfo] = {}
        self._handles: dict[str, Namespace] = {}
        self.infos = MappingProxyType(self._infos)
        self.handles = MappingProxyType(self._handles)
        # The class of namespace ``name``, or None: the map's own get (O(1), no Python frame).
        self.get: Callable[[str], NamespaceInfo | None] = self._infos.get
        self.errors: list[LoadError] = []  # the files that failed to load, and the classes refused
        self.reloading = asyncio.Lock()  # held by a reload from its import to its swap

    async def load(self) -> tuple[dict[str, NamespaceInfo], list[LoadError]]:
        """Import the objects folder on a thread (loader.py): its classes and the files that failed.
        Serves nothing yet (``serve``)."""
        return await asyncio.to_thread(load_objects, self.objects_dir, self.import_timeout)

    def serve(self, namespaces: dict[str, NamespaceInfo], errors: list[LoadError]) -> None:
        """Serve ``namespaces`` from now on, but a class whose objects on disk have another backend
        (``check_backends``: refused, its load error added); the handles of classes gone go.
        O(classes)."""
        errors = check_backends(namespaces, errors, self.data_dir, self.objects_dir)
        self._infos.clear()
        self._infos.update(namespaces)
        self.errors = errors
        for name in list(self._handles):
            if name not in namespaces:
                del self._handles[name]

    def info(self, name: str) -> NamespaceInfo:
        """The loaded class of namespace ``name`` (its methods and their signatures);
        NamespaceNotFoundError if there is none. O(1)."""
        info = self._infos.get(name)
        if info is None:
            raise NamespaceNotFoundError(name, list(self._infos), [str(e) for e in self.errors])
        return info

    def handle(self, name: str) -> Namespace:
        """The namespace handle of class ``name``, made at its first use. O(1)."""
        handle = self._handles.get(name)
        if handle is None:
            self.info(name)
            handle = self._handles[name] = self._make_handle(name)
        return handle

    def report_classless(self, index: Index) -> None:
        """Objects of a namespace no class defines (its file lost, or renamed) are kept as they are:
        listed, their checkpoints and log records untouched, until the class is back. Said once,
        at start. O(namespaces)."""
        for ns in index.namespaces():
            if ns not in self._infos and index.count(ns):
                log.warning(
                    "the data folder holds %d object(s) of namespace %s, which no class in %s "
                    "defines: they are kept as they are (restore the class to reach them)",
                    index.count(ns),
                    ns,
                    self.objects_dir,
                )
