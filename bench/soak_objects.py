"""The objects the crash and fault soak (bench/soak.py) drives; each keeps an invariant the soak checks.

Every operation carries a sequence number that only grows, so "what a caller was
told" can be compared with "what is on disk" after a kill: the durable number is
at least the last acknowledged one.
"""

import asyncio
import time

from dotui import DurableObject


class Counter(DurableObject):
    """Sequential and concurrent increments: every answer is a distinct, durable count."""

    def increment(self) -> int:
        n = self.ctx.storage.get("n", 0) + 1
        self.ctx.storage.put("n", n)
        return n

    def peek(self) -> int:
        return self.ctx.storage.get("n", 0)


class Ledger(DurableObject):
    """Multi-key transactions: a + b is always 1000, whatever was cut short."""

    def transfer(self, seq: int, amount: int) -> int:
        st = self.ctx.storage
        with st.transaction():
            a, b = st.get("a", 1000), st.get("b", 0)
            st.put({"a": a - amount, "b": b + amount, "seq": seq})
            if amount % 7 == 0:
                raise ValueError("a refused transfer: rolled back")
        return seq

    def state(self) -> dict:
        return self.ctx.storage.get(["a", "b", "seq"])


class Bin(DurableObject):
    """delete_all: after a fill every k* key holds the fill's seq; after a clear there are none."""

    def fill(self, seq: int) -> int:
        self.ctx.storage.delete_all()
        self.ctx.storage.put({**{f"k{i}": seq for i in range(8)}, "seq": seq})
        return seq

    def clear(self, seq: int) -> int:
        self.ctx.storage.delete_all()
        self.ctx.storage.put("seq", seq)
        return seq

    def state(self) -> dict:
        return self.ctx.storage.list()


class Waker(DurableObject):
    """Alarms: every armed alarm fires (at least once), after a kill too."""

    def arm(self, seq: int, delay: float) -> int:
        self.ctx.storage.set_alarm(time.time() + delay)
        self.ctx.storage.put("armed", seq)
        return seq

    async def alarm(self, info) -> None:
        self.ctx.storage.put("fired", self.ctx.storage.get("armed"))

    def state(self) -> dict:
        return {**self.ctx.storage.get(["armed", "fired"]), "alarm": self.ctx.storage.get_alarm() is not None}


class Leaf(DurableObject):
    def mark(self, seq: int) -> int:
        self.ctx.storage.put("seq", max(seq, self.ctx.storage.get("seq", 0)))
        return seq

    def peek(self) -> int:
        return self.ctx.storage.get("seq", 0)


class Fan(DurableObject):
    """Fan-out: an answered spread(seq) means the fan and its three leaves all hold seq."""

    async def spread(self, seq: int) -> int:
        leaves = [self.env.Leaf.get_by_name(f"{self.ctx.id.name}-{i}") for i in range(3)]
        await asyncio.gather(*(leaf.mark(seq) for leaf in leaves))
        self.ctx.storage.put("seq", seq)
        return seq

    def peek(self) -> int:
        return self.ctx.storage.get("seq", 0)


class Room(DurableObject):
    """WebSocket messages: a message answered means its write was durable before the answer left."""

    def fetch(self, request: dict) -> dict:
        ws = request.get("websocket")
        if ws is None:
            return {"status": 426, "body": "a WebSocket only"}
        self.ctx.accept_websocket(ws)
        return {"status": 101}

    def websocket_message(self, ws, message) -> None:
        seq = int(message)
        self.ctx.storage.put("seq", max(seq, self.ctx.storage.get("seq", 0)))
        ws.send(message)  # leaves only once the write above is durable (the output gate)

    def peek(self) -> int:
        return self.ctx.storage.get("seq", 0)


class SqlLedger(DurableObject):
    """SQLite-backed: transfers in transaction_sync between two rows; a + b is always 1000."""

    storage_backend = "sqlite"

    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        ctx.storage.sql.exec(
            "CREATE TABLE IF NOT EXISTS acct (name TEXT PRIMARY KEY, bal INTEGER);"
            "INSERT OR IGNORE INTO acct VALUES ('a', 1000), ('b', 0)"
        )

    def transfer(self, seq: int, amount: int) -> int:
        sql = self.ctx.storage.sql

        def move():
            sql.exec("UPDATE acct SET bal = bal - ? WHERE name = 'a'", amount)
            sql.exec("UPDATE acct SET bal = bal + ? WHERE name = 'b'", amount)
            self.ctx.storage.put("seq", seq)
            if amount % 7 == 0:
                raise ValueError("a refused transfer: rolled back")

        self.ctx.storage.transaction_sync(move)
        return seq

    def state(self) -> dict:
        bal = {r["name"]: r["bal"] for r in self.ctx.storage.sql.exec("SELECT name, bal FROM acct")}
        return {**bal, "seq": self.ctx.storage.get("seq", 0)}


class SqlRows(DurableObject):
    """SQLite-backed: one row per acknowledged call (concurrent callers share commits), an alarm
    armed now and then; every acknowledged seq is a row, every armed alarm fires."""

    storage_backend = "sqlite"

    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS rows (seq INTEGER PRIMARY KEY, body TEXT)")

    def add(self, seq: int) -> int:
        self.ctx.storage.sql.exec("INSERT OR REPLACE INTO rows VALUES (?, ?)", seq, "x" * (seq % 300))
        if seq % 5 == 0:
            self.ctx.storage.set_alarm(time.time() + 0.05)
            self.ctx.storage.put("armed", seq)
        return seq

    async def alarm(self, info) -> None:
        self.ctx.storage.put("fired", self.ctx.storage.get("armed"))

    def has(self, seqs: list) -> list:
        found = {
            r["seq"]
            for r in self.ctx.storage.sql.exec(
                f"SELECT seq FROM rows WHERE seq IN ({','.join('?' * len(seqs))})", *seqs
            )
        }
        return [s for s in seqs if s not in found]

    def state(self) -> dict:
        return {**self.ctx.storage.get(["armed", "fired"]), "alarm": self.ctx.storage.get_alarm() is not None}
