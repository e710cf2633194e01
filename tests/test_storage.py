"""The storage API (README, "Storage"), through a real object."""

import datetime as dt
import itertools

import pytest

from dotui import Engine
from tests.conftest import write_objects

SOURCE = """
    from dotui import DurableObject

    class Box(DurableObject):
        def do(self, op, *args, **kwargs):
            return getattr(self.ctx.storage, op)(*args, **kwargs)

        def put_bad_batch(self):
            self.ctx.storage.put({"good": 1, "bad": {1, 2}})

        def mutate_after_get(self, key):
            value = self.ctx.storage.get(key)
            value.append("mutated")
            return self.ctx.storage.get(key)

        def mutate_after_put(self, key):
            value = [1]
            self.ctx.storage.put(key, value)
            value.append(2)
            return self.ctx.storage.get(key)

        def txn_raises(self):
            with self.ctx.storage.transaction():
                self.ctx.storage.put("t1", 1)
                self.ctx.storage.delete("keep")
                raise ValueError("inside")

        def txn_rollback(self):
            with self.ctx.storage.transaction() as txn:
                txn.put("t2", 2)
                txn.rollback()
            return self.ctx.storage.get("t2")

        def txn_commits(self):
            with self.ctx.storage.transaction() as txn:
                txn.put("t3", 3)
                txn.put("t4", 4)
            return self.ctx.storage.get(["t3", "t4"])

        def nested_inner_fails(self):
            with self.ctx.storage.transaction():
                self.ctx.storage.put("outer", 1)
                try:
                    with self.ctx.storage.transaction():
                        self.ctx.storage.put("inner", 1)
                        raise KeyError("x")
                except KeyError:
                    pass
            return self.ctx.storage.list(prefix="inner") , self.ctx.storage.get("outer")

        def set_alarm_in(self, seconds):
            import time
            self.ctx.storage.set_alarm(time.time() + seconds)
            return self.ctx.storage.get_alarm().isoformat()

        def alarm_at(self):
            a = self.ctx.storage.get_alarm()
            return None if a is None else [a.tzinfo is not None, a.timestamp()]

        async def sync_then_report(self):
            self.ctx.storage.put("s", 1)
            await self.ctx.storage.sync()
            return "synced"

        async def alarm(self, info):
            pass

    class NoAlarm(DurableObject):
        def try_alarm(self):
            self.ctx.storage.set_alarm(0)
"""

KEYS = ["a", "b", "c", "d", "e", "aa", "ab", "b/1", "b/2", "é", "z", "\U0001f600", "\uff5e", "A", ""]


class BoxHandle:
    """A stub of Box/b plus the engine, for reading what is on disk."""

    def __init__(self, engine):
        self.engine = engine
        self.stub = engine.env.Box.get_by_name("b")
        self.id = self.stub.id

    def __getattr__(self, name):
        return getattr(self.stub, name)


@pytest.fixture
async def box(tmp_path):
    objs = write_objects(tmp_path / "objects", box=SOURCE)
    async with Engine(objects=str(objs), data=str(tmp_path / "data")) as e:
        yield BoxHandle(e)


async def test_get_put_delete_single_and_batch(box):
    assert await box.do("get", "missing") is None
    assert await box.do("get", "missing", "dflt") == "dflt"
    await box.do("put", "k", {"x": [1, 2.5, None, True]})
    assert await box.do("get", "k") == {"x": [1, 2.5, None, True]}
    await box.do("put", {"c": 3, "a": 1, "b": 2})
    got = await box.do("get", ["c", "nope", "a"])
    assert got == {"a": 1, "c": 3} and list(got) == ["a", "c"]
    assert await box.do("delete", "a") is True
    assert await box.do("delete", "a") is False
    assert await box.do("delete", ["b", "c", "nope"]) == 2
    assert await box.do("list") == {"k": {"x": [1, 2.5, None, True]}}


async def test_keys_are_ordered_by_utf8_bytes(box):
    await box.do("put", {k: k for k in KEYS})
    listed = list(await box.do("list"))
    assert listed == sorted(KEYS, key=lambda k: k.encode())


def _model(keys, start=None, start_after=None, end=None, prefix=None, reverse=False, limit=None):
    ks = sorted(keys, key=lambda k: k.encode())
    ks = [
        k
        for k in ks
        if (start is None or k.encode() >= start.encode())
        and (start_after is None or k.encode() > start_after.encode())
        and (end is None or k.encode() < end.encode())
        and (prefix is None or k.startswith(prefix))
    ]
    if reverse:
        ks.reverse()
    return ks[:limit] if limit is not None else ks


async def test_list_with_every_option_and_their_combinations(box):
    await box.do("put", {k: k for k in KEYS})
    options = {
        "start": [None, "b", "aa", "zz"],
        "start_after": [None, "b", "é"],
        "end": [None, "c", "b/2", "a"],
        "prefix": [None, "a", "b/", "q"],
        "reverse": [False, True],
        "limit": [None, 1, 2, 100],
    }
    checked = 0
    for combo in itertools.product(*options.values()):
        kw = {k: v for k, v in zip(options, combo, strict=False) if v is not None and v is not False}
        if "start" in kw and "start_after" in kw:
            continue
        got = list(await box.do("list", **kw))
        assert got == _model(KEYS, **kw), kw
        checked += 1
    assert checked > 500


async def test_list_rejects_bad_options_with_clear_messages(box):
    with pytest.raises(ValueError, match="List limit must be positive."):
        await box.do("list", limit=0)
    with pytest.raises(ValueError, match="List limit must be positive."):
        await box.do("list", limit=-1)
    with pytest.raises(ValueError, match="cannot be called with both start and start_after values"):
        await box.do("list", start="a", start_after="b")


async def test_limits_are_checked_before_anything_is_stored(box):
    with pytest.raises(ValueError, match="Keys cannot be larger than 2048 bytes"):
        await box.do("put", "k" * 2049, 1)
    with pytest.raises(ValueError, match="Keys cannot be larger than 2048 bytes"):
        await box.do("put", "é" * 1025, 1)  # 2050 bytes in UTF-8
    await box.do("put", "k" * 2048, 1)
    with pytest.raises(ValueError, match="Values cannot be larger than 131072 bytes"):
        await box.do("put", "big", "x" * (128 * 1024))  # + 2 quotes
    await box.do("put", "fits", "x" * (128 * 1024 - 2))
    with pytest.raises(ValueError, match="at most 128 keys; 129 given"):
        await box.do("get", [f"k{i}" for i in range(129)])
    with pytest.raises(ValueError, match="at most 128 keys; 129 given"):
        await box.do("put", {f"k{i}": i for i in range(129)})
    with pytest.raises(ValueError, match="at most 128 keys; 129 given"):
        await box.do("delete", [f"k{i}" for i in range(129)])
    # A batch put with one bad entry writes none of them.
    with pytest.raises(TypeError, match="key 'bad'.*set"):
        await box.put_bad_batch()
    assert await box.do("get", ["good", "bad", "big"]) == {}
    assert set(await box.do("list")) == {"k" * 2048, "fits"}


async def test_a_value_that_is_not_json_compatible_names_the_key_and_type(tmp_path):
    objs = write_objects(
        tmp_path / "o",
        s="""
        from dotui import DurableObject
        class S(DurableObject):
            def put_set(self):
                self.ctx.storage.put("colours", {"red"})
            def put_nan(self):
                self.ctx.storage.put("x", float("nan"))
            def put_intkey(self):
                self.ctx.storage.put("m", {1: "a"})
    """,
    )
    async with Engine(objects=str(objs), data=str(tmp_path / "d")) as e:
        s = e.env.S.get_by_name("s")
        with pytest.raises(TypeError, match=r"cannot store key 'colours'.*type set"):
            await s.put_set()
        with pytest.raises(TypeError, match=r"key 'x'.*nan"):
            await s.put_nan()
        with pytest.raises(TypeError, match=r"key 'm'.*keys must be str"):
            await s.put_intkey()


async def test_get_and_put_copy_values(box):
    await box.do("put", "l", ["x"])
    assert await box.mutate_after_get("l") == ["x"]
    assert await box.mutate_after_put("m") == [1]


async def test_transactions_roll_back_on_exception_and_on_rollback(box):
    await box.do("put", "keep", "yes")
    with pytest.raises(ValueError, match="inside"):
        await box.txn_raises()
    assert await box.do("get", ["t1", "keep"]) == {"keep": "yes"}
    assert await box.txn_rollback() is None
    assert await box.txn_commits() == {"t3": 3, "t4": 4}
    assert await box.nested_inner_fails() == [{}, 1]
    durable = box.engine.read_storage("Box", box.id)["values"]
    assert durable == {"keep": "yes", "t3": 3, "t4": 4, "outer": 1}


async def test_alarm_get_set_delete_and_delete_all(box):
    assert await box.alarm_at() is None
    await box.set_alarm_in(3600)
    aware, ts = await box.alarm_at()
    assert aware and ts > dt.datetime.now(dt.UTC).timestamp() + 3500
    await box.do("delete_alarm")
    assert await box.alarm_at() is None
    await box.set_alarm_in(3600)
    await box.do("put", {"a": 1, "b": 2})
    await box.do("delete_all")
    assert await box.do("list") == {}
    assert await box.alarm_at() is None


async def test_set_alarm_without_an_alarm_method_is_a_type_error(box):
    stub = box.engine.env.NoAlarm.get_by_name("n")
    with pytest.raises(TypeError, match="must have an alarm\\(\\) handler in order to call set_alarm"):
        await stub.try_alarm()


async def test_sync_returns_after_the_writes_are_durable(box):
    assert await box.sync_then_report() == "synced"
    assert box.engine.read_storage("Box", box.id)["values"] == {"s": 1}
