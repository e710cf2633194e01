"""What crosses between shards and the gateway: outcomes (a value or an error) and call chains.

No Ray here. A shard never lets an exception cross Ray on its own: Ray would wrap it,
and a class defined in the objects folder may not unpickle in another process. So a
shard answers an *outcome*: ``("ok", value)`` or ``("error", kind, error)``, where
``error`` is a builtin exception itself (it pickles as is) or any other one in the
gateway's JSON form (``ops/codec.py``), rebuilt at the caller as the gateway's
clients rebuild it: the engine's own class, or a ``RemoteError`` named after the
original type. ``kind`` keeps the admin layer's distinction: ``fault`` (the caller's
mistake), ``raised`` (the object's method raised), ``plain`` (anything else).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from ..ops.codec import ClientFault, MethodRaised, error_body, rebuild

Outcome = tuple


def _portable(exc: BaseException) -> Any:
    if type(exc).__module__ == "builtins":
        return exc
    return error_body(exc)["error"]


def _restored(error: Any) -> BaseException:
    return error if isinstance(error, BaseException) else rebuild(error)


async def outcome_of(work: Awaitable[Any]) -> Outcome:
    """``work``'s result or error as an outcome (cancellation still propagates)."""
    try:
        return ("ok", await work)
    except ClientFault as exc:
        return ("error", "fault", _portable(exc.original))
    except MethodRaised as exc:
        return ("error", "raised", _portable(exc.original))
    except Exception as exc:  # noqa: BLE001 - every error is the caller's answer
        return ("error", "plain", _portable(exc))


def unwrap(outcome: Outcome, *, admin: bool = False) -> Any:
    """The value of ``outcome``, or raise its error: for an admin caller (the gateway) wrapped in
    ``ClientFault``/``MethodRaised`` as ``Admin`` raises them; for object code, the error itself."""
    if outcome[0] == "ok":
        return outcome[1]
    _, kind, error = outcome
    exc = _restored(error)
    if admin and kind == "fault":
        raise ClientFault(exc)
    if admin and kind == "raised":
        raise MethodRaised(exc)
    raise exc


# ---------------------------------------------------------------- call chains across shards
def export_chain(chain: tuple, shard: int) -> tuple:
    """A chain leaving ``shard``: its own call numbers (ints, unique only within a process)
    become ``"shard:seq"``; those of other shards stay as they came."""
    return tuple(f"{shard}:{seq}" if isinstance(seq, int) else seq for seq in chain)


def import_chain(chain: tuple, shard: int) -> tuple:
    """A chain arriving at ``shard``: its own calls become ints again, so its input gates let a
    re-entering call (A -> B -> A) in; other shards' stay strings, which match no local call."""
    mine = f"{shard}:"
    return tuple(int(seq[len(mine) :]) if isinstance(seq, str) and seq.startswith(mine) else seq for seq in chain)
