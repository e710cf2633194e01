"""``ctx.block_concurrency_while(fn)``: the input gate (gates.py) held while ``fn`` runs, so no other
event reaches the object meanwhile (README.md, "The input gate").

From a call, ``fn`` runs once the gate admits that call, holding it for that call's chain; from the
constructor, it holds the gate for the constructor, and the calls wait until it ends. ``fn`` may take
at most the engine's ``block_timeout``: past it, or if it raises, the object is reset, as workerd
resets an object whose blockConcurrencyWhile callback throws.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import ObjectResetError
from . import tasks
from .host import IN_MEMORY, Host, State

if TYPE_CHECKING:
    from ..loader import NamespaceInfo
    from .calls import Call
    from .gates import InputGate


class Blocked(Protocol):
    """What holding the gate reads of the object (instance.py)."""

    host: Host
    ns: NamespaceInfo
    state: State
    input_gate: InputGate

    @property
    def label(self) -> str: ...
    def emit(self, type: str, call: Call | None = None, **fields: Any) -> None: ...
    def reset(self, error: BaseException) -> None: ...
    def pump(self) -> None: ...


class _Constructor:
    """The gate's holder while the constructor's ``fn`` runs: its calls have seq 0, no call's chain
    holds it."""

    seq = 0


CONSTRUCTOR: Any = _Constructor()


async def held_while(inst: Blocked, call: Call | None, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` (awaited if it returns an awaitable) holding ``inst``'s input gate for ``call``, or for
    the constructor (``call`` None); its result. The holder before it gets the gate back after. Nested
    in the same call, that awaitable runs apart (``tasks.awaited_apart``): workerd nests to any depth
    (docs/cloudflare.md, "blockConcurrencyWhile nesting"). O(1) a level."""
    gate = inst.input_gate
    while call is not None and not gate.admits(call):
        await gate.wait_open()
    previous = gate.holder
    holder = call if call is not None else CONSTRUCTOR
    gate.holder = holder
    inst.emit("gate.blocked", call)
    try:
        async with asyncio.timeout(inst.host.block_timeout):
            result = fn()
            if inspect.isawaitable(result):
                if previous is holder:  # nested: in a task of its own, so depth costs no stack
                    result = await tasks.awaited_apart(result, f"block_concurrency_while in {inst.ns.name}")
                else:
                    result = await result
        return result
    except BaseException as exc:
        err = failed(inst, exc)
        gate.release(None)
        if inst.state in IN_MEMORY:
            inst.reset(err)
        if isinstance(exc, TimeoutError):
            raise err from exc
        raise
    finally:
        if gate.holder is holder:
            gate.release(previous)
        inst.emit("gate.released", call)
        inst.pump()


def failed(inst: Blocked, exc: BaseException) -> ObjectResetError:
    """The error the object is reset with when ``fn`` raised ``exc`` or ran past its time."""
    if isinstance(exc, TimeoutError):
        what = f"ran past {inst.host.block_timeout:g} s"
    else:
        what = f"raised {type(exc).__name__}: {exc}"
    return ObjectResetError(f"block_concurrency_while {what}; {inst.ns.name} {inst.label} was reset")
