"""What ``put`` refuses, and that it refuses it before anything is stored.

asyncio.wait_for appears below only as a hang guard: a lone surrogate used to
reach the committer and hang every object of its group commit, and close().
"""

import asyncio

import pytest

from dotui import Engine
from tests.conftest import HANG_GUARD as GUARD
from tests.conftest import engine_of, guarded, write_objects

SOURCE = """
    from dotui import DurableObject

    class Box(DurableObject):
        def put(self, *args):
            return self.ctx.storage.put(*args)

        def put_then_fail(self, key, value):
            self.ctx.storage.put("before", 1)
            self.ctx.storage.put(key, value)

        def delete(self, key):
            return self.ctx.storage.delete(key)

        def keys(self):
            return sorted(self.ctx.storage.list())

        def put_float(self, key, what):
            self.ctx.storage.put(key, {"x": [float(what)]})

        def put_float_batch(self, what):
            self.ctx.storage.put({"good": 1, "bad": float(what)})

        def put_big_int(self):
            self.ctx.storage.put("n", 10 ** 5000)
"""

SURROGATE = "\ud800"


@pytest.fixture
async def eng(tmp_path):
    async with engine_of(tmp_path, box=SOURCE) as e:
        yield e


def durable(e, name):
    return e.read_storage("Box", e.env.Box.id_from_name(name))["values"]


@pytest.mark.parametrize(
    "args, named",
    [
        (("k", SURROGATE), "'k'"),
        (("k", {"a": ["ok", "x" + SURROGATE]}), "'k'"),
        (("k", {"nested": {SURROGATE: 1}}), "'k'"),
        ((SURROGATE, 1), "\\\\ud800"),
        (({"good": 1, "bad": [SURROGATE]},), "'bad'"),
        (({"good": 1, "x" + SURROGATE: 1},), "\\\\ud800"),
    ],
)
@guarded
async def test_a_lone_surrogate_is_refused_naming_the_key_and_nothing_is_stored(eng, args, named):
    b = eng.env.Box.get_by_name("b")
    with pytest.raises(TypeError, match=rf"{named}.*(surrogate|not valid Unicode)"):
        await asyncio.wait_for(b.put(*args), GUARD)
    assert await asyncio.wait_for(b.keys(), GUARD) == []
    await asyncio.wait_for(b.put("after", 1), GUARD)  # the object still commits
    assert durable(eng, "b") == {"after": 1}


@guarded
async def test_a_refused_surrogate_hangs_nothing_in_its_group_commit_nor_close(tmp_path):
    objs = write_objects(tmp_path / "objects", box=SOURCE)
    e = Engine(objects=str(objs), data=str(tmp_path / "data"))
    await e.start()
    try:
        bad, good = e.env.Box.get_by_name("bad"), e.env.Box.get_by_name("good")
        results = await asyncio.wait_for(
            asyncio.gather(bad.put_then_fail("k", SURROGATE), good.put("g", 1), return_exceptions=True),
            GUARD,
        )
        assert isinstance(results[0], TypeError) and "'k'" in str(results[0])
        assert results[1] is None
        assert durable(e, "good") == {"g": 1}
        # The bad call's earlier write is an ordinary write: durable, like any other.
        assert durable(e, "bad") == {"before": 1}
    finally:
        await asyncio.wait_for(e.close(), GUARD)


@guarded
async def test_a_surrogate_key_in_delete_is_refused(eng):
    b = eng.env.Box.get_by_name("b")
    with pytest.raises(TypeError, match="not valid Unicode"):
        await b.delete([SURROGATE])


@pytest.mark.parametrize("what", ["nan", "inf", "-inf"])
@guarded
async def test_non_finite_floats_are_refused_before_anything_is_stored(eng, what):
    b = eng.env.Box.get_by_name("b")
    with pytest.raises(TypeError, match=rf"key 'f'.*{what}.*JSON"):
        await b.put_float("f", what)
    with pytest.raises(TypeError, match=r"key 'bad'"):
        await b.put_float_batch(what)
    assert await b.keys() == []


@guarded
async def test_an_int_too_long_for_json_text_is_a_clear_error(eng):
    b = eng.env.Box.get_by_name("b")
    with pytest.raises(TypeError, match=r"key 'n'.*int.*digits"):
        await b.put_big_int()
    assert await b.keys() == []


@guarded
async def test_a_huge_key_is_refused_with_its_size(eng):
    b = eng.env.Box.get_by_name("b")
    with pytest.raises(ValueError, match=r"Keys cannot be larger than 2048 bytes; this key is 10000000 bytes"):
        await b.put({"ok": 1, "k" * 10_000_000: 1})
    assert await b.keys() == []
