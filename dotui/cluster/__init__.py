"""Past one process: a cluster of shards, each a named Ray actor hosting one ``Engine``.

See docs/cluster.md. Everything that imports Ray lives in this package (``ray_calls.py`` and the
modules using it); the engine itself never imports it. ``manifest.py``
and ``placement.py`` need no Ray, so a data root can be inspected without it.

A Ray this package starts (``dotui serve --cluster`` without ``--ray-address``) serves this
machine alone, so it listens on loopback only: Ray's ports run whatever code is sent to them,
and the gateway (``--host``) is the one door to the objects (docs/cluster.md, "Ray's ports"). Ray
binds its ports to 127.0.0.1 only when its node address is 127.0.0.1, and it takes loopback as
the node address only when it is told, before it is first imported, that it is not part of a
cluster of machines: hence the variable below, set here, before any module of this package
imports Ray. Joining a running cluster (``--ray-address``) takes the node's address from that
cluster instead, so it is unaffected; ``runtime.init_ray`` refuses to start a Ray that would
listen on every interface.
"""

import os

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # read by Ray at its import

from .manifest import Manifest, ManifestError, open_manifest
from .placement import shard_of

__all__ = ["Manifest", "ManifestError", "open_manifest", "shard_of"]
