"""A SQLite-backed object for the testing kit's tests (tests/test_sqlite_kit.py)."""

from dotui import DurableObject


class SqlLedger(DurableObject):
    """Entries in SQL, a total in KV, an alarm that adds interest: the kit drives all three."""

    storage_backend = "sqlite"

    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS entries (id INTEGER PRIMARY KEY, amount INTEGER)")

    def add(self, amount: int) -> int:
        self.ctx.storage.sql.exec("INSERT INTO entries(amount) VALUES (?)", amount)
        total = self.ctx.storage.get("total", 0) + amount
        self.ctx.storage.put("total", total)
        return total

    def entries(self) -> list:
        return [r["amount"] for r in self.ctx.storage.sql.exec("SELECT amount FROM entries ORDER BY id")]

    def arm(self, at: float) -> None:
        self.ctx.storage.set_alarm(at)

    async def alarm(self, info):
        self.add(1)
