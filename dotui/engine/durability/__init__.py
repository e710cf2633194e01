"""Durability: the disk seam, the commit log and committer, checkpoints, the index, recovery and repair (docs: ARCHITECTURE.md)."""
