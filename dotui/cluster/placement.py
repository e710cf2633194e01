"""Which shard is an object's home: a pure function of its id and the shard count.

Every id has exactly one home. The id's 24 leading bytes are already a keyed hash
(a name's) or clock-plus-randomness (a unique id), but not uniform in their first
bytes for unique ids, so the shard is taken from a hash of the whole id text.
"""

from __future__ import annotations

import hashlib
import os


def shard_of(hex_id: str, shards: int) -> int:
    """The shard (0 .. shards-1) that owns the object with this 64-hex-digit id."""
    if shards == 1:
        return 0
    digest = hashlib.blake2b(hex_id.encode("ascii"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def shard_folder(root: str, shard: int) -> str:
    """The data folder of ``shard`` inside the cluster's data root."""
    return os.path.join(root, f"shard-{shard}")
