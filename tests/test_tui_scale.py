"""10,000 hibernated instances and a stream of calls: the screen keeps answering keys."""

from __future__ import annotations

import concurrent.futures
import threading
from pathlib import Path

import pytest

from dotui.ops import LocalEngine
from dotui.tui.app import DotuiApp
from dotui.tui.model import SORTABLE, InstanceRows, key_of, lean, rows_from_table
from dotui.tui.screens.help import HelpScreen
from dotui.tui.snapshot import full_listing
from dotui.tui.widgets.instances import InstanceTable
from tui_support import screen_text, send_keys, until, write_hibernated, write_objects

pytestmark = [pytest.mark.tui]

N = 10_000


def test_hibernated_index_is_listed_without_waking(tmp_path: Path):
    write_hibernated(tmp_path / "data", "Counter", 50)
    objects = write_objects(tmp_path / "objects")
    with LocalEngine(str(objects), str(tmp_path / "data"), idle_timeout=600) as fe:
        rows = fe.instances("Counter")
        assert len(rows) == 50 and {r["state"] for r in rows} == {"hibernated"}


def test_the_compact_table_lists_what_instances_lists(tmp_path: Path):
    write_hibernated(tmp_path / "data", "Counter", 300)
    objects = write_objects(tmp_path / "objects")
    with LocalEngine(str(objects), str(tmp_path / "data"), idle_timeout=600) as fe:
        fe.call("Counter", "user-00001", "increment")  # live
        fe.call("Counter", "user-00002", "increment")
        fe.hibernate("Counter", "user-00002")  # touched, then hibernated
        fe.call("Counter", "somebody-new", "increment")  # not in the index yet
        fe.alarm_set("Reminder", "r", "+3600")
        table = fe.instance_table()
        # a hibernated object keeps nothing but its index entry: user-00002 is listed with the hibernated
        assert len(table["hibernated"]["Counter"]["id"]) == 299  # user-00001 is in memory
        assert {r["name"] for r in table["objects"]} == {"user-00001", "somebody-new", "r"}
        assert fe.instance_table("Reminder")["hibernated"] == {}

        # the TUI's rows from the table are those from the full listing, row for row
        by_table = rows_from_table(table)
        by_list = {key_of(r): r for r in map(lean, fe.instances())}
        assert by_table == by_list and len(by_table) == 302

        assert full_listing(fe) == by_table
        # a refresh of a few objects finds nothing changed: the rows compare equal whatever their source
        rows = InstanceRows()
        rows.replace_all(by_table)
        assert rows.update(fe.instances_of(list(by_table))) == set()
        assert rows.counts() == {"busy": 0, "idle": 3, "waking": 0, "hibernated": 299, "broken": 0}


def test_the_view_is_ordered_by_each_rows_order_key():
    rows = InstanceRows()
    rows.replace_all(
        [
            {
                "namespace": ns,
                "id": f"{i:064x}",
                "name": None if i % 7 == 0 else f"n{i % 13}",
                "state": state,
                "busy": i % 5 == 0,
                "calls": i % 4,
                "errors": i % 3,
                "last_active": None if i % 11 == 0 else 1000.0 + i % 17,
                "keys": i % 6,
                "bytes": (i * 37) % 100,
                "alarm": None if i % 2 else 2000.0 + i % 9,
                "queued": i % 2,
            }
            for i, (ns, state) in enumerate((ns, state) for ns in ("B", "A") for state in ("live", "hibernated"))
        ]
        + [
            {
                "namespace": "A",
                "id": f"{i:064x}",
                "name": f"h{i % 5}",
                "state": "hibernated",
                "last_active": 5.0,
                "keys": 1,
                "bytes": 12,
                "alarm": None,
            }
            for i in range(100, 160)
        ]
    )
    for column in SORTABLE:
        for reverse in (False, True):
            for group in (False, True):
                rows.set_sort(column, reverse)
                rows.set_grouping(group)
                view = rows.view()
                expected = sorted(rows.rows, key=lambda k: rows._order_key(k, rows.rows[k]))
                assert view == expected, (column, reverse, group)
                assert rows._order == [rows._order_key(k, rows.rows[k]) for k in view]


@pytest.mark.slow
async def test_ten_thousand_instances_and_a_burst_of_calls_keys_still_answered(tmp_path: Path):
    write_hibernated(tmp_path / "data", "Counter", N)
    objects = write_objects(tmp_path / "objects")
    fe = LocalEngine(str(objects), str(tmp_path / "data"), idle_timeout=600).start()
    stop = threading.Event()
    calls: list[concurrent.futures.Future] = []

    def burst() -> None:
        # calls keep arriving, spread over 200 objects, until the test has pressed its keys
        i = 0
        while not stop.is_set():
            calls.append(fe.call_async("Counter", f"user-{i % 200:05d}", "increment"))
            i += 1
            if i % 50 == 0:
                concurrent.futures.wait(calls[-50:])

    try:
        app = DotuiApp(fe, refresh_interval=0.25, watch_files=False)
        async with app.run_test(size=(120, 34)) as pilot:
            main = app.main
            await until(pilot, lambda: len(main.rows.rows) == N, f"{N:,} instances listed")
            await until(pilot, lambda: f"Instances {N:,}" in screen_text(app), f"Instances {N:,}")
            thread = threading.Thread(target=burst, daemon=True)
            thread.start()
            await until(
                pilot, lambda: main.rows.counts()["idle"] + main.rows.counts()["busy"] > 0, "objects woken by the burst"
            )
            # keys go through the driver as a terminal's would (see send_keys) while calls stream in
            send_keys(app, "slash")
            await until(pilot, lambda: main.pane.filter_input.has_focus, "the filter field focused")
            send_keys(app, *"09999")
            await until(
                pilot,
                lambda: [main.rows.rows[k]["name"] for k in main.rows.view()] == ["user-09999"],
                "the filter narrowing to user-09999",
            )
            await until(pilot, lambda: main.selected == main.rows.view()[0], "user-09999 selected")
            send_keys(app, "escape")
            await until(pilot, lambda: len(main.rows.view()) == N, "every instance back")
            await until(pilot, lambda: main.table.has_focus, "the table focused again")
            # sort by name (an order the calls do not move), one key press at a time
            while main.rows.sort_column != "name":
                before = main.rows.sort_column
                send_keys(app, "s")
                await until(pilot, lambda before=before: main.rows.sort_column != before, "the next sort column")
            await until(pilot, lambda: "by name" in screen_text(app), "by name")
            table = main.query_one(InstanceTable)
            send_keys(app, "end")
            await until(pilot, lambda: table.cursor == N - 1, "the cursor on the last of 10,000 rows")
            send_keys(app, "home")
            await until(pilot, lambda: table.cursor == 0, "the cursor on the first row")
            send_keys(app, "question_mark")
            await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help opened")
            send_keys(app, "escape")
            await until(pilot, lambda: not isinstance(app.screen, HelpScreen), "the help closed")
            assert not stop.is_set() and thread.is_alive()  # the burst was running throughout
            stop.set()
            thread.join()
            done, _ = concurrent.futures.wait(calls)
            assert all(f.exception() is None for f in done)
            live = 200
            await until(pilot, lambda: main.state.stats.get("live") == live, f"{live} live objects in the header")
            await until(pilot, lambda: "200 live" in screen_text(app), "200 live")
    finally:
        stop.set()
        fe.close()
