"""Transactions (README, "Storage"): synchronous, owned by one call, ended in order.

asyncio.wait_for appears below only as a hang guard: each of these defects used
to hang the object (or the engine) for good.
"""

import asyncio

import pytest

from dotui import Engine
from tests.conftest import HANG_GUARD as GUARD
from tests.conftest import engine_of, guarded, write_objects

SOURCE = """
    import asyncio
    from dotui import DurableObject

    class Txn(DurableObject):
        def __init__(self, ctx, env):
            super().__init__(ctx, env)
            self.waiter = None
            self.background = None

        async def txn_across_sleep(self):
            with self.ctx.storage.transaction():
                self.ctx.storage.put("mine", 1)
                await asyncio.sleep(0)
                self.ctx.storage.put("mine2", 2)
            return "done"

        async def txn_then_wait(self):
            with self.ctx.storage.transaction():
                self.ctx.storage.put("mine", 1)
                self.waiter = asyncio.get_running_loop().create_future()
                await self.waiter
                raise ValueError("roll back")

        async def txn_and_wait(self, key):
            with self.ctx.storage.transaction():
                self.ctx.storage.put(key, 1)
                await self.waiter
            return "done"

        def make_waiter(self):
            self.waiter = asyncio.get_running_loop().create_future()

        def release_waiter(self):
            if not self.waiter.done():
                self.waiter.set_result(None)

        async def write_other(self, key="other"):
            self.ctx.storage.put(key, 2)
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_result(None)
            return "ok"

        async def txn_calls_out(self):
            with self.ctx.storage.transaction():
                self.ctx.storage.put("mine", 1)
                await self.env.Helper.get_by_name("h").call_back(self.ctx.id.name)
            return "done"

        async def txn_calls_out_first(self):
            with self.ctx.storage.transaction():
                await self.env.Helper.get_by_name("h").call_back(self.ctx.id.name)
                self.ctx.storage.put("mine", 1)
            return "done"

        def txn_then_sync_in_block(self):
            async def body():
                with self.ctx.storage.transaction():
                    self.ctx.storage.put("mine", 1)
                    await self.ctx.storage.sync()
            return body()

        async def txn_spawns_task(self):
            loop = asyncio.get_running_loop()
            entered = loop.create_future()

            async def body():
                with self.ctx.storage.transaction():
                    self.ctx.storage.put("bg", 1)
                    self.waiter = loop.create_future()
                    entered.set_result(None)
                    await self.waiter
                    self.ctx.storage.put("bg2", 2)

            async def run():
                try:
                    await body()
                    return "ended normally"
                except Exception as exc:
                    return f"{type(exc).__name__}: {exc}"

            self.background = loop.create_task(run())
            await entered  # the task is inside its transaction, at its await
            return "spawned"

        async def background_outcome(self):
            return await self.background

        def out_of_order(self):
            st = self.ctx.storage
            t1, t2 = st.transaction(), st.transaction()
            t1.__enter__()
            st.put("a", 1)
            t2.__enter__()
            st.put("b", 2)
            try:
                t1.__exit__(None, None, None)
            except Exception as exc:
                first = f"{type(exc).__name__}: {exc}"
            else:
                first = None
            try:
                st.put("c", 3)
            except Exception as exc:
                write = f"{type(exc).__name__}: {exc}"
            else:
                write = None
            try:
                t2.__exit__(None, None, None)
            except Exception as exc:
                second = f"{type(exc).__name__}: {exc}"
            else:
                second = None
            return [first, write, second]

        def out_of_order_raises(self):
            st = self.ctx.storage
            t1, t2 = st.transaction(), st.transaction()
            t1.__enter__()
            st.put("a", 1)
            t2.__enter__()
            st.put("b", 2)
            t1.__exit__(None, None, None)

        def leaves_txn_open(self):
            self.ctx.storage.transaction().__enter__()
            self.ctx.storage.put("leaked", 1)
            return "returned"

        async def txn_retries_forever(self):
            with self.ctx.storage.transaction():
                self.ctx.storage.put("mine", 1)
                refused = 0
                while True:
                    try:
                        await asyncio.sleep(0)
                        break
                    except RuntimeError:
                        refused += 1
                self.ctx.storage.put("mine2", 2)

        def get(self, key):
            return self.ctx.storage.get(key)

        def keys(self):
            return sorted(self.ctx.storage.list())

        def nested_ok(self):
            st = self.ctx.storage
            with st.transaction():
                st.put("o", 1)
                with st.transaction() as inner:
                    st.put("i", 1)
                    inner.rollback()
                with st.transaction():
                    st.put("j", 1)
            return sorted(st.list())

    class Helper(DurableObject):
        async def call_back(self, name):
            return await self.env.Txn.get_by_name(name).write_other("from_helper")
"""


@pytest.fixture
async def eng(tmp_path):
    async with engine_of(tmp_path, txn=SOURCE) as e:
        yield e


def durable(e, name="t"):
    return e.read_storage("Txn", e.env.Txn.id_from_name(name))["values"]


@guarded
async def test_a_transaction_cannot_span_an_await(eng):
    t = eng.env.Txn.get_by_name("t")
    with pytest.raises(RuntimeError, match=r"cannot span an await \(of asyncio.sleep\)") as info:
        await asyncio.wait_for(t.txn_across_sleep(), GUARD)
    assert "block_concurrency_while" in str(info.value)
    assert await t.keys() == []  # rolled back: nothing of it was written
    await t.write_other()
    assert durable(eng) == {"other": 2}


@guarded
async def test_another_calls_write_is_not_rolled_back_with_a_transaction(eng):
    t = eng.env.Txn.get_by_name("t")
    first, second = await asyncio.wait_for(
        asyncio.gather(t.txn_then_wait(), t.write_other(), return_exceptions=True), GUARD
    )
    assert isinstance(first, RuntimeError) and "cannot span an await" in str(first)
    assert second == "ok"  # answered, and its write stays
    assert await t.keys() == ["other"]
    assert durable(eng) == {"other": 2}


@guarded
async def test_a_call_back_into_the_object_cannot_write_into_its_transaction(eng):
    t = eng.env.Txn.get_by_name("t")
    with pytest.raises(RuntimeError, match=r"transaction") as info:
        await asyncio.wait_for(t.txn_calls_out(), GUARD)
    assert "Txn.txn_calls_out" in str(info.value)
    assert await t.keys() == []  # neither the transaction's write nor the foreign one
    assert await asyncio.wait_for(t.write_other(), GUARD) == "ok"
    assert durable(eng) == {"other": 2}


@guarded
async def test_a_call_back_writing_while_its_callers_transaction_is_open_is_refused(eng):
    t = eng.env.Txn.get_by_name("t")
    with pytest.raises(
        RuntimeError,
        match=r"cannot write to this object while call #\d+ "
        r"\(Txn.txn_calls_out_first\) has a storage.transaction\(\) open",
    ):
        await asyncio.wait_for(t.txn_calls_out_first(), GUARD)
    assert await t.keys() == []
    assert await asyncio.wait_for(t.write_other(), GUARD) == "ok"
    assert durable(eng) == {"other": 2}


@guarded
async def test_sync_inside_a_transaction_is_refused(eng):
    t = eng.env.Txn.get_by_name("t")
    with pytest.raises(RuntimeError, match=r"sync\(\) inside storage.transaction\(\)"):
        await asyncio.wait_for(t.txn_then_sync_in_block(), GUARD)
    assert await t.keys() == []


@guarded
async def test_a_transaction_across_an_await_in_a_task_is_rolled_back_and_others_are_answered(eng):
    t = eng.env.Txn.get_by_name("t")
    assert await asyncio.wait_for(t.txn_spawns_task(), GUARD) == "spawned"
    # The task's transaction is open across its await: the next call writes, and
    # ends the task's wait. Its write is its own; the task's transaction fails.
    assert await asyncio.wait_for(t.write_other(), GUARD) == "ok"
    outcome = await asyncio.wait_for(t.background_outcome(), GUARD)
    assert outcome.startswith("TransactionError") and "rolled back" in outcome
    assert await t.keys() == ["other"]
    assert durable(eng) == {"other": 2}


@guarded
async def test_transactions_ended_out_of_order_get_a_clear_error_and_the_object_keeps_serving(eng):
    t = eng.env.Txn.get_by_name("t")
    first, write, second = await asyncio.wait_for(t.out_of_order(), GUARD)
    assert first.startswith("TransactionError") and "out of order" in first
    assert write.startswith("TransactionError")  # its call may not write as if nothing happened
    assert second.startswith("TransactionError")
    assert await asyncio.wait_for(t.keys(), GUARD) == []
    assert await asyncio.wait_for(t.write_other(), GUARD) == "ok"
    assert durable(eng) == {"other": 2}


@guarded
async def test_two_calls_opening_transactions_across_awaits_cannot_interleave(eng):
    t = eng.env.Txn.get_by_name("t")
    await t.make_waiter()
    one = asyncio.ensure_future(t.txn_and_wait("one"))
    two = asyncio.ensure_future(t.txn_and_wait("two"))
    await asyncio.sleep(0)  # lets both start (without the fix: both now wait inside a transaction)
    await t.release_waiter()
    results = await asyncio.wait_for(asyncio.gather(one, two, return_exceptions=True), GUARD)
    assert all(isinstance(r, RuntimeError) and "cannot span an await" in str(r) for r in results)
    assert await asyncio.wait_for(t.keys(), GUARD) == []
    assert await asyncio.wait_for(t.write_other(), GUARD) == "ok"
    assert durable(eng) == {"other": 2}


@guarded
async def test_an_uncaught_out_of_order_end_fails_only_that_call(eng):
    t = eng.env.Txn.get_by_name("t")
    with pytest.raises(RuntimeError, match="out of order"):
        await asyncio.wait_for(t.out_of_order_raises(), GUARD)
    assert await asyncio.wait_for(t.get("a"), GUARD) is None
    assert await asyncio.wait_for(t.write_other(), GUARD) == "ok"
    assert durable(eng) == {"other": 2}


@guarded
async def test_code_that_keeps_awaiting_inside_a_transaction_does_not_freeze_the_engine(eng):
    t = eng.env.Txn.get_by_name("t")
    with pytest.raises(RuntimeError, match=r"rolled back: its code went on awaiting after 100 refusals"):
        await t.txn_retries_forever()
    assert await t.keys() == []
    assert await t.write_other() == "ok"
    assert durable(eng) == {"other": 2}


@guarded
async def test_a_transaction_left_open_does_not_wedge_the_object(eng):
    t = eng.env.Txn.get_by_name("t")
    assert await asyncio.wait_for(t.leaves_txn_open(), GUARD) == "returned"
    assert await asyncio.wait_for(t.get("leaked"), GUARD) is None
    assert await asyncio.wait_for(t.write_other(), GUARD) == "ok"
    assert durable(eng) == {"other": 2}


@guarded
async def test_nested_transactions_in_order_still_work(eng):
    t = eng.env.Txn.get_by_name("t")
    assert await t.nested_ok() == ["j", "o"]
    assert durable(eng) == {"j": 1, "o": 1}


def test_transactions_opened_and_ended_in_any_order_keep_storage_consistent():
    """Random programs of nested transactions, ended in any order: never an assert, and memory and
    the uncommitted changes always agree with a model of the documented semantics."""
    import random

    from dotui.engine.object.storage import Storage

    TransactionError = RuntimeError  # what the engine raises is a RuntimeError subclass

    for seed in range(300):
        rnd = random.Random(seed)
        st = Storage({"k0": 0}, None, on_write=lambda: None, wait_durable=None, has_alarm_handler=False)
        model = {"k0": 0}
        open_txns: list = []  # (context manager, handle, snapshot of the model when opened)
        aborted: list = []
        for _ in range(rnd.randint(1, 25)):
            op = rnd.random()
            if op < 0.3:
                t = st.transaction()
                if aborted:
                    with pytest.raises(TransactionError):
                        t.__enter__()
                    continue
                handle = t.__enter__()
                open_txns.append((t, handle, dict(model)))
            elif op < 0.7:
                key, value = f"k{rnd.randint(0, 3)}", rnd.randint(0, 9)
                if aborted:
                    with pytest.raises(TransactionError):
                        st.put(key, value)
                else:
                    st.put(key, value)
                    model[key] = value
            elif op < 0.8:
                if aborted:
                    with pytest.raises(TransactionError):
                        st.delete_all()
                else:
                    st.delete_all()
                    model.clear()
            elif open_txns or aborted:
                pick = rnd.randrange(len(open_txns) + len(aborted))
                if pick >= len(open_txns):
                    t = aborted.pop(pick - len(open_txns))
                    with pytest.raises(TransactionError, match="rolled back"):
                        t.__exit__(None, None, None)
                    continue
                t, handle, snapshot = open_txns[pick]
                rollback = rnd.random() < 0.4
                if rollback:
                    handle.rollback()
                if pick == len(open_txns) - 1:
                    t.__exit__(None, None, None)
                    if rollback:
                        model = snapshot
                else:
                    with pytest.raises(TransactionError, match="out of order"):
                        t.__exit__(None, None, None)
                    model = snapshot
                    aborted.extend(x for x, _, _ in open_txns[pick + 1 :])
                open_txns = open_txns[:pick]
            assert st.list() == dict(sorted(model.items())), seed
        for t in reversed(aborted):
            with pytest.raises(TransactionError):
                t.__exit__(None, None, None)
        for t, _, _ in reversed(open_txns):
            t.__exit__(None, None, None)
        assert st.list() == dict(sorted(model.items())), seed
        changes = st.take_changes()
        durable = {"k0": 0}
        if changes is not None:
            if changes.cleared:
                durable.clear()
            for k, text in changes.puts.items():
                if text is None:
                    durable.pop(k, None)
                else:
                    durable[k] = int(text)
        assert durable == model, seed
        assert st.byte_size == sum(len(k) + len(str(v)) for k, v in model.items()), seed


CONSTRUCTOR = """
    import asyncio
    from dotui import DurableObject

    class C(DurableObject):
        def __init__(self, ctx, env):
            super().__init__(ctx, env)
            ctx.block_concurrency_while(self._load)

        async def _load(self):
            with self.ctx.storage.transaction():
                self.ctx.storage.put("a", 1)
                await asyncio.sleep(0)
                self.ctx.storage.put("b", 1)

        def keys(self):
            return sorted(self.ctx.storage.list())
"""


@guarded
async def test_a_constructors_transaction_across_an_await_fails_the_wake_clearly(tmp_path):
    objs = write_objects(tmp_path / "objects", c=CONSTRUCTOR)
    e = Engine(objects=str(objs), data=str(tmp_path / "data"))
    await e.start()
    try:
        c = e.env.C.get_by_name("c")
        for _ in range(2):  # every wake tries again, and fails the same way
            with pytest.raises(RuntimeError, match="transaction.. of the constructor of C was rolled back"):
                await c.keys()
        assert e.read_storage("C", c.id)["values"] == {}
    finally:
        await asyncio.wait_for(e.close(), GUARD)
