"""The cluster manifest: ``<data root>/cluster.json``, written once when the cluster is created.

It fixes the shard count, because an object's home shard is a function of its id
and of that count (``placement.py``): a cluster started with another count would
look for objects on the wrong shard. A different count is refused until a
resharding command exists. A data folder of a single engine (a ``log`` folder in
the root) is refused too: its objects are not in any shard.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass

from ..engine import values
from ..engine.durability import disk
from ..engine.durability.checkpoint import atomic_write
from ..engine.errors import DataFolderError
from .placement import shard_folder

MANIFEST = "cluster.json"
VERSION = 1


class ManifestError(DataFolderError):
    """The data root's cluster manifest disagrees with what was asked, or cannot be read."""


@dataclass(frozen=True)
class Manifest:
    root: str
    shards: int

    def folder(self, shard: int) -> str:
        return shard_folder(self.root, shard)

    @property
    def path(self) -> str:
        return os.path.join(self.root, MANIFEST)


def _check_count(shards: object) -> int:
    if not isinstance(shards, int) or isinstance(shards, bool) or not 1 <= shards <= 256:
        raise ManifestError(f"a cluster has 1 to 256 shards; got {shards!r}: pass --cluster N with such a number")
    return shards


def read_manifest(root: str) -> Manifest | None:
    """The manifest of ``root``, or None when it holds none."""
    path = os.path.join(root, MANIFEST)
    if not os.path.exists(path):
        return None
    try:
        doc = values.read(disk.read_file(path))  # ValueError for any text, nesting 10^5 deep too
        return Manifest(root, _check_count(doc["shards"]))
    except (OSError, ValueError, KeyError, TypeError, ManifestError) as exc:
        raise ManifestError(
            f"the cluster manifest {path} cannot be read ({exc}); it says how many shards hold the objects: "
            f'restore it (it is {{"version": {VERSION}, "shards": N}} with N the count the cluster was created with)'
        ) from None


def _check_shard_folder(path: str, shard: int) -> None:
    """A shard's folder is a folder, never a link followed to another engine's data (FolderEntryError)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return  # made by the shard's engine at its start
    if not stat.S_ISDIR(mode):
        raise disk.refusal(path, mode, f"data folder of shard {shard}")


def open_manifest(root: str, shards: int) -> Manifest:
    """The manifest of ``root`` for ``shards`` shards, created if the root holds none.

    ManifestError if the root was created with another count, or holds a single engine's data.
    """
    root = os.path.realpath(root)  # the root named may be a link; nothing below it may (engine/durability/folder.py)
    _check_count(shards)
    found = read_manifest(root)
    if found is not None:
        for i in range(found.shards):
            _check_shard_folder(found.folder(i), i)
        if found.shards != shards:
            raise ManifestError(
                f"the data root {root} holds a cluster of {found.shards} shards, not {shards}: an object's shard "
                f"follows from the count, so it is fixed when the cluster is created; start it with "
                f"--cluster {found.shards}, or pass another data folder (--data DIR)"
            )
        return found
    if os.path.isdir(os.path.join(root, "log")):
        raise ManifestError(
            f"the data folder {root} holds a single engine's objects, not a cluster: serve it without --cluster, "
            "or pass another data folder (--data DIR) for a new cluster"
        )
    disk.makedirs(root)
    doc = json.dumps({"version": VERSION, "shards": shards}, indent=1) + "\n"
    atomic_write(os.path.join(root, MANIFEST), doc.encode())
    return Manifest(root, shards)
