"""TUI benchmark: what one refresh costs at 10,000 instances, measured in one run.

    python bench/tui.py [--instances N] [--seconds S]

Runs the real app headless (Textual's ``run_test``) at 120x34 over an engine
whose index holds N hibernated objects, first idle, then under a stream of calls
spread over 200 objects. Per refresh it times, on the UI thread, applying the
snapshot (diff by key, re-sort when a sort value moved, repaint changed lines)
and rendering the visible instance lines; on the gateway thread, the engine's
answer. It also measures how late a 10 ms timer fires on the UI loop (what a
key press waits), and the first paint of the virtualized table against a
Textual ``DataTable`` holding every row. The machine is shared: compare the
ratios, which are measured side by side in this run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))

from textual.app import App
from textual.widgets import DataTable

from dotui.ops import LocalEngine
from dotui.tui import app as tui_app
from dotui.tui.model import COLUMNS, cell_text
from dotui.tui.widgets.instances import InstanceTable
from tui_support import write_hibernated, write_objects

SIZE = (120, 34)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def ms(x: float) -> str:
    return f"{x * 1000:.2f} ms"


class Probe:
    """Wraps the screen's apply and the table's line rendering with timers."""

    def __init__(self) -> None:
        self.apply: list[float] = []
        self.render: list[float] = []
        self.lines: list[int] = []
        self.poll: list[float] = []
        self.full: list[bool] = []
        self._render_acc = 0.0
        self._lines_acc = 0

    def install(self) -> None:
        probe = self
        orig_apply = tui_app.MainScreen._apply
        orig_line = InstanceTable.render_line

        def apply(screen, snap, req):
            t0 = time.perf_counter()
            orig_apply(screen, snap, req)
            probe.apply.append(time.perf_counter() - t0)
            probe.poll.append(snap.took)
            probe.full.append(snap.rows is not None)
            probe.render.append(probe._render_acc)
            probe.lines.append(probe._lines_acc)
            probe._render_acc, probe._lines_acc = 0.0, 0

        def render_line(table, y):
            t0 = time.perf_counter()
            strip = orig_line(table, y)
            probe._render_acc += time.perf_counter() - t0
            probe._lines_acc += 1
            return strip

        tui_app.MainScreen._apply = apply
        InstanceTable.render_line = render_line

    def reset(self) -> None:
        self.apply, self.render, self.lines, self.poll, self.full = [], [], [], [], []


def burst_until(fe, stop: threading.Event, count: list[int]) -> None:
    """Calls in batches of 50 over 200 objects, as fast as they are answered, until ``stop``."""
    import concurrent.futures

    i = 0
    while not stop.is_set():
        batch = [fe.call_async("Counter", f"user-{(i + j) % 200:05d}", "increment") for j in range(50)]
        concurrent.futures.wait(batch)
        i += 50
        count[0] += 50


async def loop_lag(seconds: float) -> list[float]:
    """How late a 10 ms sleep wakes on this loop: what a key press would wait."""
    lags = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        await asyncio.sleep(0.01)
        lags.append(time.perf_counter() - t0 - 0.01)
    return lags


async def first_paint_datatable(rows: list[dict]) -> float:
    """A DataTable given every row: seconds until its first frame."""
    painted = asyncio.Event()

    class Plain(App):
        def compose(self):
            yield DataTable()

        def on_mount(self):
            t = self.query_one(DataTable)
            for c in COLUMNS[1:]:
                t.add_column(c.title, key=c.name)
            now = time.time()
            for r in rows:
                t.add_row(*[cell_text(c.name, r, now) for c in COLUMNS[1:]], key=r["id"])
            self.call_after_refresh(painted.set)

    t0 = time.perf_counter()
    app = Plain()
    async with app.run_test(size=SIZE) as pilot:
        await painted.wait()
        await pilot.pause()
        took = time.perf_counter() - t0
    return took


async def run(n: int, seconds: float) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="dotui-bench-tui-"))
    try:
        write_hibernated(tmp / "data", "Counter", n)
        objects = write_objects(tmp / "objects")
        fe = LocalEngine(str(objects), str(tmp / "data"), idle_timeout=600).start()

        # the same burst with no TUI: what the engine alone costs this loop (GIL, GC)
        stop0 = threading.Event()
        count0 = [0]
        th0 = threading.Thread(target=burst_until, args=(fe, stop0, count0), daemon=True)
        th0.start()
        lag_alone = await loop_lag(seconds)
        stop0.set()
        th0.join()

        probe = Probe()
        probe.install()
        t0 = time.perf_counter()
        app = tui_app.DotuiApp(fe, refresh_interval=0.25, watch_files=False)
        async with app.run_test(size=SIZE) as pilot:
            main = app.main
            while len(main.rows.rows) < n:
                await pilot.pause(0.01)
            await pilot.pause()
            first_paint = time.perf_counter() - t0

            # idle: nothing happens, the refresh loop still runs
            probe.reset()
            lag_idle = await loop_lag(seconds)
            idle = (list(probe.apply), list(probe.render), list(probe.poll), list(probe.full))

            # burst: calls stream in over 200 objects
            stop = threading.Event()
            count = [0]
            probe.reset()
            th = threading.Thread(target=burst_until, args=(fe, stop, count), daemon=True)
            th.start()
            lag_burst = await loop_lag(seconds)
            stop.set()
            th.join()
            busy = (list(probe.apply), list(probe.render), list(probe.poll), list(probe.full))
            lines = list(probe.lines)
            rows_live = main.rows.counts()
        fe.close()

        rows = [
            {
                "namespace": "Counter",
                "id": f"{i:064x}",
                "name": f"user-{i:05d}",
                "state": "hibernated",
                "queued": 0,
                "calls": 0,
                "errors": 0,
                "last_active": time.time() - i,
                "keys": 1,
                "bytes": 12,
                "alarm": None,
            }
            for i in range(n)
        ]
        dt_paint = await first_paint_datatable(rows)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def frame(apply, render):
        return [a + r for a, r in zip(apply, render, strict=False)]

    print(f"dotui TUI at {n:,} instances, {SIZE[0]}x{SIZE[1]}, refresh every 0.25 s, {seconds:g} s per phase")
    print()
    print(f"first paint (engine listing + diff + sort + visible lines): {ms(first_paint)}")
    print(
        f"first paint of a DataTable holding every row:               {ms(dt_paint)}"
        f"  ({dt_paint / first_paint:.1f}x the virtualized table)"
    )
    print()
    for label, (apply, render, poll_t, full), lag in (("idle", idle, lag_idle), ("burst", busy, lag_burst)):
        fr = frame(apply, render)
        print(
            f"{label}: {len(fr)} refreshes"
            + (
                f", {count[0]:,} calls ({count[0] / seconds:,.0f}/s), {sum(full)} full listings"
                if label == "burst"
                else f", {sum(full)} full listings"
            )
        )
        print(
            f"  UI thread per refresh (apply + render lines): median {ms(statistics.median(fr))}, "
            f"p95 {ms(pct(fr, 0.95))}, max {ms(max(fr))}"
        )
        print(
            f"    of which apply (diff, sort, repaint):       median {ms(statistics.median(apply))}, "
            f"p95 {ms(pct(apply, 0.95))}"
        )
        print(f"    of which visible lines rendered:           median {ms(statistics.median(render))}")
        print(
            f"  engine answer (gateway thread):              median {ms(statistics.median(poll_t))}, "
            f"p95 {ms(pct(poll_t, 0.95))}"
        )
        print(
            f"  UI loop lag for a 10 ms timer (key press wait): median {ms(statistics.median(lag))}, "
            f"p99 {ms(pct(lag, 0.99))}, max {ms(max(lag))}"
        )
        print(f"  refresh share of the UI thread: {sum(fr) / seconds * 100:.1f}%")
    print(
        f"  the same burst with no TUI: {count0[0] / seconds:,.0f} calls/s, loop lag median "
        f"{ms(statistics.median(lag_alone))}, p99 {ms(pct(lag_alone, 0.99))}, max {ms(max(lag_alone))}"
        f"  (the TUI adds {ms(max(0.0, pct(lag_burst, 0.99) - pct(lag_alone, 0.99)))} at p99;"
        f" calls/s with the TUI: {count[0] / count0[0]:.2f}x)"
    )
    print(
        f"  lines rendered per refresh during the burst: median {statistics.median(lines) if lines else 0:.0f}"
        f" (the screen shows {SIZE[1]} lines; {n:,} rows are never all drawn)"
    )
    print(f"  after the burst: {rows_live['idle'] + rows_live['busy']} live, {rows_live['hibernated']:,} hibernated")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--instances", type=int, default=10_000)
    p.add_argument("--seconds", type=float, default=5.0)
    args = p.parse_args()
    asyncio.run(run(args.instances, args.seconds))


if __name__ == "__main__":
    main()
