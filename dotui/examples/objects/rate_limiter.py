"""RateLimiter: a token bucket, one per client.

Teaches: state that must be checked and updated in one step. Because storage
calls never let another call in, "read tokens, decide, write tokens" is atomic
here without a transaction or a lock.
"""

from dotui import DurableObject


class RateLimiter(DurableObject):
    """A token bucket: `capacity` tokens, refilled at `rate` per second."""

    capacity = 10.0
    rate = 1.0

    def _refill(self) -> tuple[float, float]:
        now = self.ctx.now()  # the engine's time: a test moves it with the kit's clock (docs/testing.md)
        tokens, at = self.ctx.storage.get("bucket", [self.capacity, now])
        return min(self.capacity, tokens + (now - at) * self.rate), now

    def take(self, n: float = 1) -> bool:
        """Take `n` tokens if there are enough; True if allowed, False if rate-limited."""
        if n <= 0:
            raise ValueError(f"n must be positive, got {n}")
        tokens, now = self._refill()
        allowed = tokens >= n
        if allowed:
            tokens -= n
        self.ctx.storage.put("bucket", [tokens, now])
        return allowed

    def tokens(self) -> float:
        """Tokens available now."""
        return round(self._refill()[0], 3)
