"""Past one process: a cluster of shards, each a named Ray actor hosting one ``Engine``.

See docs/cluster.md. Everything that imports Ray lives in this package (``ray_calls.py`` and the
modules using it); the engine itself never imports it. ``manifest.py``
and ``placement.py`` need no Ray, so a data root can be inspected without it.
"""

from .manifest import Manifest, ManifestError, open_manifest
from .placement import shard_of

__all__ = ["Manifest", "ManifestError", "open_manifest", "shard_of"]
