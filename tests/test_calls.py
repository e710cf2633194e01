"""Stubs and calls: what a caller sees."""

import pytest

from dotui import Engine, MethodNotFoundError, NamespaceNotFoundError
from tests.conftest import write_objects

THINGS = """
    import asyncio
    from dotui import DurableObject

    class Thing(DurableObject):
        def __init__(self, ctx, env):
            super().__init__(ctx, env)
            self.kept = None

        def echo(self, *args, **kwargs):
            return {"args": list(args), "kwargs": kwargs}

        async def later(self, x):
            await asyncio.sleep(0)
            return x * 2

        def keep(self, value):
            self.kept = value
            self.ctx.storage.put("v", value)
            return value

        def kept_value(self):
            return self.kept

        def stored(self):
            return self.ctx.storage.get("v")

        def boom(self):
            self.ctx.storage.put("before", 1)
            raise KeyError("no such thing")

        def bad_result(self):
            return {1, 2}

        def _hidden(self):
            return 1

        async def alarm(self, info):
            pass
"""


@pytest.fixture
async def things(tmp_path):
    objs = write_objects(tmp_path / "objects", things=THINGS)
    async with Engine(objects=str(objs), data=str(tmp_path / "data")) as e:
        yield e


async def test_sync_and_async_methods_with_keyword_arguments(things):
    t = things.env.Thing.get_by_name("a")
    assert await t.echo(1, "two", three=3) == {"args": [1, "two"], "kwargs": {"three": 3}}
    assert await t.later(21) == 42


async def test_private_methods_alarm_and_unknown_names_are_not_callable(things):
    t = things.env.Thing.get_by_name("a")
    with pytest.raises(AttributeError):
        _ = t._hidden
    for name in ["alarm", "nope"]:
        with pytest.raises(MethodNotFoundError) as exc:
            await getattr(t, name)()
        msg = str(exc.value)
        assert repr(name) in msg and "echo" in msg and "later" in msg and "_hidden" not in msg
        assert "alarm," not in msg


async def test_unknown_namespace_lists_the_known_ones(things):
    with pytest.raises(NamespaceNotFoundError, match="Thing"):
        _ = things.env.Nope


async def test_an_exception_reaches_the_caller_and_keeps_earlier_writes(things):
    t = things.env.Thing.get_by_name("a")
    with pytest.raises(KeyError, match="no such thing"):
        await t.boom()
    # As in Cloudflare: an exception neither undoes the writes nor resets the object.
    await t.keep(5)
    r = things.read_storage("Thing", t.id)
    assert r["values"] == {"before": 1, "v": 5}
    assert await t.kept_value() == 5


async def test_arguments_and_results_are_copies(things):
    t = things.env.Thing.get_by_name("a")
    value = {"list": [1, 2], "nested": {"x": 1}}
    got = await t.keep(value)
    value["list"].append(3)
    got["nested"]["x"] = 99
    assert await t.stored() == {"list": [1, 2], "nested": {"x": 1}}
    assert await t.kept_value() == {"list": [1, 2], "nested": {"x": 1}}


async def test_values_that_cannot_cross_are_type_errors(things):
    t = things.env.Thing.get_by_name("a")
    with pytest.raises(TypeError, match="argument 1.*set"):
        await t.echo({1, 2})
    with pytest.raises(TypeError, match="dict keys must be str"):
        await t.echo({1: "x"})
    with pytest.raises(TypeError, match="returned a value that cannot cross"):
        await t.bad_result()


async def test_a_stub_call_from_inside_an_object_reaches_the_other_object(tmp_path):
    objs = write_objects(
        tmp_path / "o",
        pair="""
        from dotui import DurableObject
        class Caller(DurableObject):
            async def relay(self, name, x):
                return await self.env.Callee.get_by_name(name).double(x)
        class Callee(DurableObject):
            def double(self, x):
                return 2 * x
    """,
    )
    async with Engine(objects=str(objs), data=str(tmp_path / "d")) as e:
        assert await e.env.Caller.get_by_name("c").relay("d", 4) == 8


async def test_a_method_may_use_asyncio_timeout_and_a_shielded_call_outlives_its_caller(tmp_path):
    objs = write_objects(
        tmp_path / "o",
        t="""
        import asyncio
        from dotui import DurableObject
        class T(DurableObject):
            async def bounded(self):
                try:
                    async with asyncio.timeout(0.05):
                        await asyncio.sleep(10)
                except TimeoutError:
                    return "timed out inside the method"

            async def slow_write(self):
                await asyncio.sleep(0.1)
                self.ctx.storage.put("done", True)
                return "written"

            def done(self):
                return self.ctx.storage.get("done", False)
    """,
    )
    import asyncio

    async with Engine(objects=str(objs), data=str(tmp_path / "d")) as e:
        t = e.env.T.get_by_name("t")
        assert await t.bounded() == "timed out inside the method"
        call = asyncio.ensure_future(t.slow_write())
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.shield(call), 0.01)  # the caller stops waiting...
        assert await call == "written"  # ...the call goes on
        assert await t.done() is True
