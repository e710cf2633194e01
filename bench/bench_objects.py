"""The Counter every benchmark measures, the same class as bench/peer/worker.js's Counter."""

from __future__ import annotations

import os

COUNTER = '''
from dotui import DurableObject

class Counter(DurableObject):
    """The benchmarks' object: a no-op, a durable increment, a read, a batch fill."""

    def noop(self):
        return None

    def increment(self, by=1):
        n = self.ctx.storage.get("n", 0) + by
        self.ctx.storage.put("n", n)
        return n

    def peek(self):
        return self.ctx.storage.get("n", 0)

    def fill(self, start, count):
        self.ctx.storage.put({f"key/{i:06d}": {"i": i, "payload": "x" * 24} for i in range(start, start + count)})
'''


def write_counter(objects: str) -> str:
    """Write the Counter class into the objects folder ``objects`` (made if missing); returns it."""
    os.makedirs(objects, exist_ok=True)
    with open(os.path.join(objects, "counter.py"), "w") as f:
        f.write(COUNTER)
    return objects
