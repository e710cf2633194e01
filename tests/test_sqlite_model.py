"""A SQLite-backed object's SQL + KV API against a plain in-memory model, with point-in-time
restores and restarts (hypothesis's rule-based state machine; docs/sqlite.md).

The KV half is tests/storage_model.py's, which tests/test_storage_model.py runs on the KV backend (the
same operations, model, rules and checks, with the SQLite backend's 2 MiB value bound); the SQL half is rows of one table written, deleted, refused
and in transaction_sync; bookmarks are taken at random points and restored later (the model goes
back to what it was then), and every restore is undone with the bookmark it returned. After each
step the object's answer, its KV storage, its alarm and its rows must equal the model's.
"""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule

from tests.storage_model import EXAMPLES, STEPS, STORE, Model, ModelMachine, _same

pytestmark = pytest.mark.slow

SQL_STORE = (
    STORE.replace('"huge": "x" * (128 * 1024 + 1)', '"huge": "x" * (3 * 1024 * 1024)')
    + '''

TABLE = "CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v INTEGER)"


class SqlStore(Store):
    """The same operations on a SQLite-backed object, and SQL rows beside them."""

    storage_backend = "sqlite"

    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        ctx.storage.sql.exec(TABLE)

    def sql_run(self, ops):
        self.ctx.storage.sql.exec(TABLE)  # delete_all drops it, as Cloudflare's
        return [self._sql(op) for op in ops]

    def _sql(self, op):
        sql = self.ctx.storage.sql
        try:
            if op[0] == "put":
                sql.exec("INSERT OR REPLACE INTO t VALUES (?, ?)", op[1], op[2])
            elif op[0] == "del":
                return ["ok", sql.exec("DELETE FROM t WHERE k = ?", op[1]).rows_written]
            elif op[0] == "bad":
                sql.exec({"txn": "BEGIN", "hidden": "SELECT * FROM _cf_KV", "syntax": "INSERT INTO t VALUES (",
                          "half": "INSERT INTO t VALUES ('zz', 1); INSERT INTO t VALUES (1, 2, 3)"}[op[1]])
            elif op[0] == "txn":
                def body():
                    for inner in op[1]:
                        r = self._sql(inner)
                        if r[0] == "error":
                            raise ValueError("inner")
                    if op[2]:
                        raise KeyError("undo")
                self.ctx.storage.transaction_sync(body)
            return ["ok", None]
        except Exception as exc:
            return ["error", type(exc).__name__]

    def sql_dump(self):
        self.ctx.storage.sql.exec(TABLE)
        return [[r["k"], r["v"]] for r in self.ctx.storage.sql.exec("SELECT k, v FROM t ORDER BY k")]

    async def bookmark(self):
        return await self.ctx.storage.get_current_bookmark()

    async def restore(self, b):
        return await self.ctx.storage.on_next_session_restore_bookmark(b)
'''
)

sql_keys = st.text(alphabet="abc", min_size=1, max_size=2)
sql_simple = st.one_of(
    st.tuples(st.just("put"), sql_keys, st.integers(-(2**63), 2**63 - 1)),
    st.tuples(st.just("del"), sql_keys),
    st.tuples(st.just("bad"), st.sampled_from(["txn", "hidden", "syntax", "half"])),
).map(list)
sql_ops = st.one_of(sql_simple, st.tuples(st.just("txn"), st.lists(sql_simple, max_size=3), st.booleans()).map(list))


class SqlModel(Model):
    """The KV model, rows of ``t`` beside it."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, int] = {}

    def sql(self, op):
        if op[0] == "put":
            self.rows[op[1]] = op[2]
            return ["ok", None]
        if op[0] == "del":
            return ["ok", 1 if self.rows.pop(op[1], None) is not None else 0]
        if op[0] == "bad":
            if op[1] == "half":  # the first statement runs; the second fails and undoes only itself
                self.rows["zz"] = 1
            return ["error", "?"]
        saved = dict(self.rows)
        for inner in op[1]:
            if self.sql(inner)[0] == "error":
                self.rows = saved
                return ["error", "?"]
        if op[2]:
            self.rows = saved
            return ["error", "?"]
        return ["ok", None]

    def apply(self, op):
        if op[0] == "delete_all":  # every table too, on the SQLite backend
            self.rows = {}
        return super().apply(op)

    def _txn(self, ops, mode):
        saved = dict(self.rows)
        out = super()._txn(ops, mode)
        if mode in ("rollback", "raise"):
            self.rows = saved
        return out

    def snapshot(self):
        return copy.deepcopy((self.data, self.alarm, self.rows))

    def become(self, snap) -> None:
        self.data, self.alarm, self.rows = copy.deepcopy(snap)


class SqlStorageMachine(ModelMachine):
    """The shared KV rules on a SQLite-backed object, SQL rows and point-in-time restores beside them."""

    SOURCE = SQL_STORE
    CLASS = "SqlStore"
    MODEL = SqlModel

    def __init__(self) -> None:
        super().__init__()
        self.bookmarks: list[tuple[str, tuple]] = []

    @rule(ops=st.lists(sql_ops, min_size=1, max_size=4))
    def run_sql(self, ops) -> None:
        got = self._run(self.stub.sql_run(ops))
        want = [self.model.sql(op) for op in ops]
        assert _same(got, want), f"sql {ops}\n got  {got}\n want {want}"

    @rule()
    def bookmark(self) -> None:
        self.bookmarks.append((self._run(self.stub.bookmark()), self.model.snapshot()))

    @precondition(lambda self: self.bookmarks)
    @rule(data=st.data())
    def restore(self, data) -> None:
        b, snap = data.draw(st.sampled_from(self.bookmarks))
        before = self.model.snapshot()
        undo = self._run(self.stub.restore(b))
        self._run(self.engine.hibernate("SqlStore", self.stub.id))  # the next session starts at the next call
        self.model.become(snap)
        self.bookmarks.append((undo, before))

    @invariant()
    def rows_match(self) -> None:
        if self.engine is None:
            return
        assert self._run(self.stub.sql_dump()) == [[k, v] for k, v in sorted(self.model.rows.items())]


SqlStorageMachine.TestCase.settings = settings(
    max_examples=max(10, EXAMPLES // 2),
    stateful_step_count=STEPS,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
test_sql_storage_matches_the_model = SqlStorageMachine.TestCase
