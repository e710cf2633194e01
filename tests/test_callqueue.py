"""The call queue on its own: first in, first out, one admitted at a time, bounded."""

import asyncio

import pytest

from dotui import OverloadedError
from dotui.engine.object.callqueue import CallQueue
from dotui.engine.object.gates import InputGate
from dotui.engine.object.instance import Call


def _call(name: str, chain: tuple = ()) -> Call:
    return Call("call", name, (), {}, chain)


async def test_admits_in_arrival_order_and_only_once_the_admitted_one_has_started():
    q, gate = CallQueue(limit=10), InputGate()
    a, b = _call("a"), _call("b")
    waits = [asyncio.ensure_future(q.wait(a)), asyncio.ensure_future(q.wait(b))]
    await asyncio.sleep(0)
    assert [c.method for c in q] == ["a", "b"]
    assert q.admit(gate, serial=False, running=False) is True
    assert q.admit(gate, serial=False, running=False) is False  # a has not started yet
    await waits[0]
    assert q.started(a) is True
    assert q.admit(gate, serial=False, running=False) is True
    await waits[1]
    assert not waits[1].cancelled() and q.admitted is b


async def test_a_held_gate_keeps_the_head_out_unless_it_belongs_to_the_holders_chain():
    q, gate = CallQueue(limit=10), InputGate()
    holder = _call("holder")
    gate.holder = holder
    outsider = _call("outsider")
    waiting = asyncio.ensure_future(q.wait(outsider))
    await asyncio.sleep(0)
    assert q.admit(gate, serial=False, running=True) is False
    gate.release()
    assert q.admit(gate, serial=False, running=True) is True
    await waiting


async def test_a_cancelled_waiter_is_skipped_and_frees_its_admission():
    q, gate = CallQueue(limit=10), InputGate()
    a, b = _call("a"), _call("b")
    wa, wb = asyncio.ensure_future(q.wait(a)), asyncio.ensure_future(q.wait(b))
    await asyncio.sleep(0)
    wa.cancel()
    await asyncio.sleep(0)
    assert q.admit(gate, serial=False, running=False) is True
    assert q.admitted is b
    await wb


async def test_more_than_limit_waiting_is_an_overload():
    q = CallQueue(limit=1)
    first = asyncio.ensure_future(q.wait(_call("a")))
    await asyncio.sleep(0)
    with pytest.raises(OverloadedError):
        await q.wait(_call("b"))
    q.fail_all(RuntimeError("gone"))
    with pytest.raises(RuntimeError, match="gone"):
        await first
