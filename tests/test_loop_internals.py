"""The two asyncio internals the engine reads (dotui/engine/loopinternals.py), checked as relied on.

If a Python release changes either, these tests fail naming it, instead of the engine quietly
losing the early commit (a lone caller's durable call a turn of the loop slower) or a refused
await inside a transaction leaving its future unusable. On a loop without the ready queue
(uvloop, when installed) the engine must still do everything, only without the early commit.
"""

from __future__ import annotations

import asyncio

import pytest

from dotui.engine import Engine
from dotui.engine.loopinternals import ready_queue, release_yielded

COUNTER = """
from dotui import DurableObject


class Counter(DurableObject):
    async def increment(self, by: int = 1) -> int:
        n = self.ctx.storage.get("n", 0) + by
        self.ctx.storage.put("n", n)
        return n
"""


def test_the_standard_loop_keeps_its_ready_callbacks_where_the_committer_looks():
    async def main() -> None:
        loop = asyncio.get_running_loop()
        ready = ready_queue(loop)
        assert ready is not None, (
            "asyncio's event loop no longer has the deque BaseEventLoop._ready: Committer.commit_if_alone "
            "(durability/committer.py) never commits early any more; see dotui/engine/loopinternals.py"
        )
        before = len(ready)
        handle = loop.call_soon(lambda: None)
        assert len(ready) == before + 1 and ready[-1] is handle, (
            "loop.call_soon no longer appends its handle to BaseEventLoop._ready, which commit_if_alone takes it off"
        )
        handle.cancel()

    asyncio.run(main())


def test_a_released_future_can_be_awaited_again():
    async def main() -> None:
        fut = asyncio.get_running_loop().create_future()

        async def waiter() -> None:
            await fut

        coro = waiter()
        yielded = coro.send(None)  # what a task's step gets at the await
        assert yielded is fut and fut._asyncio_future_blocking, (
            "a future yielded at an await no longer carries _asyncio_future_blocking: storage.await_error "
            "cannot release it (dotui/engine/loopinternals.py)"
        )
        release_yielded(yielded)
        assert not fut._asyncio_future_blocking
        coro.close()
        task = asyncio.ensure_future(waiter())  # awaited again, by a task: no "await wasn't used" error
        await asyncio.sleep(0)
        fut.set_result(None)
        await asyncio.wait_for(task, 5)
        release_yielded(object())  # anything without the mark is left alone

    asyncio.run(main())


def test_uvloop_has_no_ready_queue_and_the_engine_still_commits_every_call(tmp_path):
    uvloop = pytest.importorskip("uvloop", reason="uvloop is not installed (pip install uvloop)")
    objects = tmp_path / "objects"
    objects.mkdir()
    (objects / "counter.py").write_text(COUNTER)

    async def main() -> list[int]:
        assert ready_queue(asyncio.get_running_loop()) is None, (
            "uvloop's loop now has a deque _ready: check that commit_if_alone's use of it holds there"
        )
        async with Engine(str(objects), str(tmp_path / "data")) as engine:
            oid = engine.namespace("Counter").id_from_name("a")
            alone = [await asyncio.wait_for(engine.call("Counter", oid, "increment", (), {}), 10) for _ in range(5)]
            together = await asyncio.wait_for(
                asyncio.gather(*(engine.call("Counter", oid, "increment", (), {}) for _ in range(5))), 10
            )
            return alone + sorted(together)

    answers = uvloop.run(main())
    assert answers == list(range(1, 11))

    async def again() -> int:
        async with Engine(str(objects), str(tmp_path / "data")) as engine:
            oid = engine.namespace("Counter").id_from_name("a")
            return await asyncio.wait_for(engine.call("Counter", oid, "increment", (), {}), 10)

    assert asyncio.run(again()) == 11  # every call answered was on disk


def test_the_borrowed_websocket_unmasking_is_the_plain_xor():
    # dotui/server/wsframes.py borrows aiohttp's compiled unmasking where it is built (a private name):
    # it must be exactly the pure-Python XOR it stands in for, whatever the length.
    from dotui.server import wsframes

    for n in (0, 1, 3, 4, 5, 63, 64, 1000, 4097):
        data = bytearray((i * 7 + 3) & 0xFF for i in range(n))
        expected = bytearray(data)
        wsframes._mask_python(b"\x01\x82\x43\xf4", expected)
        wsframes._mask(b"\x01\x82\x43\xf4", data)
        assert data == expected, n
