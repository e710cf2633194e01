"""workerd's SQL assertions (its sql-test.js and sync-kv-test.js), ported: the steps of
bench/sql_scenario.py run on a SQLite-backed dotui object, each answer beside the one workerd gave
(bench/peer/sql_expected.json, recorded with `python bench/sql_scenario.py --record`). A difference is
either fixed or listed, with its reason, in sql_scenario.DELIBERATE (docs/sqlite.md, "Beside workerd")."""

from __future__ import annotations

import json
import sys

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
try:
    import behaviour
    import sql_scenario
finally:
    sys.path.remove(str(ROOT / "bench"))

WORKERD = sql_scenario.flatten(json.loads((ROOT / "bench" / "peer" / "sql_expected.json").read_text()))


@pytest.fixture(scope="module")
def ours():
    import asyncio

    return sql_scenario.flatten(asyncio.run(asyncio.wait_for(sql_scenario.run_dotui(behaviour.engine_on), 120)))


@pytest.mark.parametrize("step", sorted(WORKERD))
def test_each_step_answers_as_on_workerd(ours, step):
    if step in sql_scenario.DELIBERATE:
        assert not sql_scenario.same(ours.get(step), WORKERD[step]), f"{step} is listed as deliberate but agrees now"
        return
    assert sql_scenario.same(ours.get(step), WORKERD[step]), (
        f"{step}\n  dotui:   {ours.get(step)!r:.600}\n  workerd: {WORKERD[step]!r:.600}"
    )


def test_dotui_runs_every_step_workerd_ran(ours):
    assert set(ours) == set(WORKERD)


def test_the_deliberate_differences_are_what_they_say(ours):
    assert ours["sql results: 2**63 - 1"] == {"ok": [{"big": 2**63 - 1}]}
    assert ours["sql refused: a value of a type SQLite cannot store"]["error"].startswith(
        "sql.exec binding 1 is a dict"
    )
    assert "2097152 bytes" in ours["sql kv: storage.put of a 2 MiB + 1 string"]["error"]


READ_FIRST = """
from dotui import DurableObject

class ReadFirst(DurableObject):
    storage_backend = "sqlite"

    def setup(self):
        self.ctx.storage.sql.exec("CREATE TABLE t (x)")

    def read_then_write_then_raise(self):
        sql = self.ctx.storage.sql

        def body():
            sql.exec("SELECT count(*) FROM t").one()  # a read first: nothing written yet
            sql.exec("INSERT INTO t VALUES (1)")
            raise ValueError("undo me")
        try:
            self.ctx.storage.transaction_sync(body)
        except ValueError as exc:
            return str(exc), sql.exec("SELECT count(*) AS n FROM t").one()["n"]
"""


async def test_transaction_sync_is_all_or_nothing_when_it_reads_first():
    """workerd's "transactionSync, failure" with a read as the first statement: the write after it is
    undone and the callback's own error is raised (a read ended the savepoint, so the INSERT stayed and
    the rollback raised "no such savepoint")."""
    import asyncio

    async with behaviour.engine_on("read_first.py", READ_FIRST) as e:
        stub = e.env.ReadFirst.get_by_name("a")
        await stub.setup()
        await asyncio.sleep(0.01)  # the table's commit done: the transaction starts with nothing written
        assert await asyncio.wait_for(stub.read_then_write_then_raise(), 10) == ["undo me", 0]
