"""Counter: the smallest durable object.

Teaches: storage outlives the Python object. `n` is durable (it survives
hibernation and restarts); `calls_since_wake` is an ordinary attribute, lost
whenever the object hibernates and rebuilt by the constructor on the next call.
"""

from dotui import DurableObject


class Counter(DurableObject):
    """Counts. `n` is durable; `calls_since_wake` lives only while the object is awake."""

    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        self.calls_since_wake = 0

    async def increment(self, by: int = 1) -> int:
        """Add `by` to the count and return the new count (durable when it returns)."""
        self.calls_since_wake += 1
        n = self.ctx.storage.get("n", 0) + by
        self.ctx.storage.put("n", n)
        return n

    def peek(self) -> int:
        """The count, without changing it."""
        return self.ctx.storage.get("n", 0)

    def since_wake(self) -> int:
        """Calls since this object last woke: resets to 0 after hibernation."""
        return self.calls_since_wake

    def noop(self) -> None:
        """Does nothing: measures the cost of a call."""
        return None
