"""The tour's lesson on point-in-time recovery, on the bundled SQLite-backed TodoList (docs/sqlite.md).

A mistake is made on purpose (every task deleted) and undone by restoring the object to a bookmark
taken for a moment before it; then the restore itself is undone with the bookmark it answered.
"""

from __future__ import annotations

import time

from .script import Lesson, Point, Run, Step

T, NAME = "TodoList", "tour-pitr"
TASKS = ["buy milk", "write the report", "call the dentist"]


def _fail(cond: bool, problem: str) -> str | None:
    return None if cond else problem


def _titles(run: Run) -> list[str]:
    return [t["title"] for t in run.call(T, NAME, "open")]


def _add(run: Run) -> None:
    run.facade.sql_exec(T, NAME, "DELETE FROM todo", [])  # a fresh list each time the lesson runs
    run.seen["added"] = run.call(T, NAME, "add_many", TASKS)
    run.seen["open"] = _titles(run)
    time.sleep(0.05)  # the moment to come back to is after these writes, a little before the mistake
    run.seen["good_time"] = time.time()
    time.sleep(0.05)


def _mistake(run: Run) -> None:
    run.seen["deleted"] = run.facade.sql_exec(T, NAME, "DELETE FROM todo", [])["rows_written"]
    run.seen["after"] = _titles(run)


def _restore(run: Run) -> None:
    mark = run.facade.bookmark(T, NAME, run.seen["good_time"])
    run.seen["mark"] = mark
    run.seen["undo"] = run.facade.restore(T, NAME, mark)["undo"]
    run.seen["restored"] = _titles(run)


def _undo(run: Run) -> None:
    run.facade.restore(T, NAME, run.seen["undo"])
    run.seen["undone"] = _titles(run)


PITR = Lesson(
    "recovery",
    "Point-in-time recovery: back to any moment",
    "A SQLite-backed object keeps its history. A bookmark names one moment of it; restoring to a bookmark "
    "restarts the object exactly as it was then, and the restore can itself be undone.",
    (f"{T}/{NAME}",),
    [
        Step(
            f'{T}/{NAME} is a to-do list in SQL (storage_backend = "sqlite"). Add three tasks in one '
            "transaction_sync: all of them or none.",
            do=_add,
            point=Point(T, NAME, "storage", "the studio: table todo, its rows"),
            then=lambda r: f"open tasks: {', '.join(r.seen['open'])}",
            check=lambda r: _fail(r.seen["added"] == 3 and r.seen["open"] == TASKS, f"saw {r.seen}"),
        ),
        Step(
            "Now a mistake: DELETE FROM todo, with no WHERE. It is durable as soon as it returns, like any write.",
            do=_mistake,
            point=Point(T, NAME, "storage", "the table is empty"),
            then=lambda r: f"{r.seen['deleted']} rows deleted; open tasks: {r.seen['after'] or 'none'}",
            check=lambda r: _fail(r.seen["deleted"] == 3 and r.seen["after"] == [], f"saw {r.seen}"),
        ),
        Step(
            "Ask for the bookmark of a moment before the mistake (get_bookmark_for_time; bookmark REF -SECONDS "
            "in the command bar) and restore to it. The object restarts (on Cloudflare: "
            "on_next_session_restore_bookmark, then a restart).",
            do=_restore,
            point=Point(T, NAME, "storage", "b: the bookmarks over time"),
            then=lambda r: f"restored to {r.seen['mark']}: open tasks {', '.join(r.seen['restored'])}",
            check=lambda r: _fail(r.seen["restored"] == TASKS, f"after the restore: {r.seen['restored']}"),
        ),
        Step(
            "The restore answered a bookmark of the state it left. Restoring to that undoes the restore.",
            do=_undo,
            point=Point(T, NAME, "storage", "empty again"),
            then=lambda r: (
                f"restored to {r.seen['undo']}: open tasks {r.seen['undone'] or 'none'} — the "
                f"mistake is back, so nothing was ever lost by restoring"
            ),
            check=lambda r: _fail(r.seen["undone"] == [], f"after undoing the restore: {r.seen['undone']}"),
        ),
    ],
    f"Explore: on the Storage tab of {T}/{NAME}, b lists the bookmarks; Enter on one restores to it. "
    f"In the command bar: bookmark {T}/{NAME} --list, restore {T}/{NAME} BOOKMARK.",
    commands=f"Explore: bookmark {T}/{NAME} --list lists its bookmarks; restore {T}/{NAME} BOOKMARK restores to one.",
)
