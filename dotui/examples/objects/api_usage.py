"""ApiUsage: per-user API usage counts, one object per user.

Teaches: addressable compute, and alarms that wake a hibernated object. Every request a user makes, from any server,
lands on the one object named after that user, so counting needs no database
and no locks. An alarm drops days older than the retention window, waking the
object from hibernation if it has to.

Keys are ``day/<YYYY-MM-DD>/<endpoint>`` so a ``prefix`` list reads one day.
"Today" is the engine's time (``self.ctx.now()``), so a test moves it with the
testing kit's clock (docs/testing.md) instead of waiting a day.
"""

import datetime as dt

from dotui import DurableObject

RETENTION_DAYS = 7


DAY = 86_400


def _date(epoch: float) -> dt.date:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).date()


class ApiUsage(DurableObject):
    """Counts one user's API calls per endpoint and day; an alarm drops old days."""

    async def record(self, endpoint: str, day: str | None = None) -> int:
        """Count one call of `endpoint` (today, or `day` as YYYY-MM-DD); returns that day's count."""
        if not isinstance(endpoint, str) or not endpoint:
            raise ValueError("endpoint must be a non-empty str, e.g. '/search'")
        day = day or _date(self.ctx.now()).isoformat()
        dt.date.fromisoformat(day)  # a bad day is an error, not a key
        key = f"day/{day}/{endpoint}"
        n = self.ctx.storage.get(key, 0) + 1
        self.ctx.storage.put(key, n)
        if self.ctx.storage.get_alarm() is None:
            self.ctx.storage.set_alarm(self.ctx.now() + DAY)
        return n

    def usage(self, day: str | None = None) -> dict:
        """Counts by endpoint for one day (default today)."""
        prefix = f"day/{day or _date(self.ctx.now()).isoformat()}/"
        return {k[len(prefix) :]: v for k, v in self.ctx.storage.list(prefix=prefix).items()}

    def totals(self) -> dict:
        """Counts by day, summed over endpoints."""
        out: dict[str, int] = {}
        for key, n in self.ctx.storage.list(prefix="day/").items():
            day = key.split("/", 2)[1]
            out[day] = out.get(day, 0) + n
        return out

    async def alarm(self, info):
        """Drop days older than the retention window; check again in a day."""
        cutoff = (_date(self.ctx.now()) - dt.timedelta(days=RETENTION_DAYS)).isoformat()
        old = list(self.ctx.storage.list(prefix="day/", end=f"day/{cutoff}").keys())
        for i in range(0, len(old), 128):
            self.ctx.storage.delete(old[i : i + 128])
        if self.ctx.storage.list(prefix="day/", limit=1):
            self.ctx.storage.set_alarm(self.ctx.now() + DAY)
