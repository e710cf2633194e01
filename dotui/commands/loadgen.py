"""``load``: calls started on a schedule (open loop), and what became of them.

Each call is started at its time whether or not the earlier ones returned, as
independent clients would; a method slower than the rate makes the object's
queue grow. Once a second (at a prompt) a progress line goes to ``on_event``.
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import time
from typing import Any

from .parsing import Ref
from .runner import Context


def run_load(
    ctx: Context, ref: Ref, method: str, args: list, kwargs: dict, rate: float, seconds: float
) -> dict[str, Any]:
    total = max(1, int(round(rate * seconds)))
    start = ctx.clock()
    started: dict[cf.Future, float] = {}
    latencies: list[float] = []
    deepest = 0
    next_report = start + 1.0
    next_sample = start
    for i in range(total):
        due = start + i / rate
        while (wait := due - ctx.clock()) > 0:
            ctx.sleep(min(wait, 0.05))
        fut = ctx.facade.call_async(ref.namespace, ref.ref, method, list(args), dict(kwargs))
        t0 = time.monotonic()
        started[fut] = t0
        fut.add_done_callback(functools.partial(_record_latency, latencies, t0))
        now = ctx.clock()
        if now >= next_sample:
            next_sample = now + 0.25
            deepest = max(deepest, _depth(ctx, ref))
        if now >= next_report:
            next_report += 1.0
            _progress(ctx, ref, i + 1, started)
    deepest = max(deepest, _depth(ctx, ref))
    cf.wait(list(started))
    errors: dict[str, int] = {}
    returned = 0
    for fut in started:
        exc = fut.exception()
        if exc is None:
            returned += 1
        else:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
    lat = sorted(latencies)
    return {
        "object": str(ref),
        "method": method,
        "rate": rate,
        "seconds": seconds,
        "started": len(started),
        "returned": returned,
        "raised": errors,
        "deepest_queue": deepest,
        "latency_ms": {"p50": _ms(lat, 0.5), "p95": _ms(lat, 0.95), "max": _ms(lat, 1.0)},
        "took": round(ctx.clock() - start, 3),
    }


def _record_latency(latencies: list[float], t0: float, _fut: cf.Future) -> None:
    latencies.append(time.monotonic() - t0)


def _depth(ctx: Context, ref: Ref) -> int:
    """Calls waiting in the object's queue, and running, now."""
    try:
        info = ctx.facade.instance(ref.namespace, ref.ref)
    except Exception:  # noqa: BLE001 - a figure for the report, not worth failing the load for
        return 0
    return int(info.get("queued") or 0) + len(info.get("running") or [])


def _progress(ctx: Context, ref: Ref, n: int, started: dict[cf.Future, float]) -> None:
    if ctx.on_event is None or not ctx.interactive:
        return
    pending = sum(1 for f in started if not f.done())
    ctx.on_event(
        {
            "type": "load.progress",
            "t": time.time(),
            "namespace": ref.namespace,
            "started": n,
            "pending": pending,
            "text": f"{n} started, {pending} not returned yet",
        }
    )


def _ms(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    i = min(len(sorted_values) - 1, int(q * (len(sorted_values) - 1) + 0.5))
    return round(sorted_values[i] * 1000, 1)
