"""The TUI's refresh protocol (tui/refresh.py), its folder watcher and its GC policy, without Textual."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from dotui.tui.refresh import FULL_EVERY, Refresh
from dotui.tui.snapshot import Detail, PollRequest, Snapshot
from dotui.tui.watcher import FolderWatcher

pytestmark = [pytest.mark.tui]

A = ("Counter", "a" * 64)
B = ("Counter", "b" * 64)


def row(key, **fields):
    return {"namespace": key[0], "id": key[1], "name": fields.pop("name", None), "state": "live", **fields}


def ev(key, type_="call.finished", **fields):
    return {"type": type_, "namespace": key[0], "id": key[1], **fields}


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def started() -> tuple[Refresh, Clock]:
    """A refresher past its first (full) poll, holding rows A and B."""
    clock = Clock()
    r = Refresh(monotonic=clock)
    req = r.request(None)
    assert req.full and req.namespaces and req.keys == []
    r.apply(Snapshot(rows={A: row(A, name="alice"), B: row(B)}, namespaces=[{"name": "Counter"}], load_errors=[]), req)
    return r, clock


def test_after_the_first_full_poll_only_what_events_touched_is_asked_for():
    r, clock = started()
    assert r.request(None) == PollRequest()  # nothing happened: nothing to ask
    r.fold([ev(A), ev(A, "commit"), {"type": "engine.started"}])
    req = r.request(None)
    assert not req.full and req.keys == [(A, "#" + A[1])]
    assert r.request(None).keys == []  # asked once
    clock.t += FULL_EVERY
    assert r.request(None).full  # the safety net: a full listing now and then


def test_lost_events_or_a_reload_ask_for_everything():
    r, _ = started()
    r.fold([{"type": "events.lost", "count": 3}])
    assert r.request(None).full
    r.fold([{"type": "reload", "namespaces": ["Counter"]}])
    req = r.request(None)
    assert req.full and req.namespaces


def test_a_failed_poll_asks_again_for_what_it_was_to_bring():
    r, _ = started()
    r.fold([ev(B)])
    req = r.request(None)
    applied = r.apply(Snapshot(error="ConnectionError: gone"), req)
    assert applied.busy == "engine error: ConnectionError: gone"
    assert r.request(None).keys == [(B, "#" + B[1])]


def test_a_snapshot_says_which_rows_changed_and_tells_load_errors_once():
    r, _ = started()
    req = r.request(None)
    applied = r.apply(Snapshot(changed=[row(A, name="alice", calls=1)], stats={"calls": 5}), req)
    assert applied.changed == {A} and applied.listed is None and applied.stats_changed
    assert r.rows.rows[A]["calls"] == 1 and r.stats == {"calls": 5}
    errors = ["bad.py:3: SyntaxError"]
    first = r.apply(Snapshot(namespaces=[{"name": "Counter"}], load_errors=errors), PollRequest(namespaces=True))
    again = r.apply(Snapshot(namespaces=[{"name": "Counter"}], load_errors=errors), PollRequest(namespaces=True))
    assert first.new_load_errors == errors and again.new_load_errors == []
    assert r.refreshes == 4


def test_the_selected_object_gets_its_detail_for_the_tab_in_view():
    r, _ = started()
    assert r.show(A) and not r.show(A)
    req = r.request("queue")
    assert req.selected == A and req.selected_ref == "alice" and req.want_queue and not req.want_storage
    r.fold([ev(B)])
    assert r.request("queue").selected is None  # another object's events: no detail needed
    r.fold([ev(A)])
    assert r.request("storage").want_storage  # the selected object's events: its detail again
    r.show(B)
    assert r.request("queue").selected_ref == "#" + B[1]  # no name: the full id


def test_a_detail_keeps_what_the_refresh_did_not_ask_for():
    r, _ = started()
    r.show(A)
    with_queue = Detail(A, info=row(A, name="alice"), queue=[{"seq": 1}], history=[])
    r.apply(Snapshot(detail=with_queue), PollRequest(selected=A))
    storage_only = Detail(A, info=row(A, name="alice", keys=1), storage={"values": {"n": 1}})
    applied = r.apply(Snapshot(detail=storage_only), PollRequest(selected=A))
    assert applied.detail is r.detail
    assert r.detail.queue == [{"seq": 1}] and r.detail.storage == {"values": {"n": 1}}
    assert r.detail_row_changed(r.detail) == {A} and r.rows.rows[A]["keys"] == 1
    other = Detail(B, info=row(B))
    assert r.apply(Snapshot(detail=other), PollRequest()).detail is None  # not the selected object


def test_the_folder_watcher_names_the_files_saved_added_or_removed(tmp_path):
    watcher = FolderWatcher(str(tmp_path))
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "notes.txt").write_text("not code\n")
    assert watcher.changed() == []  # the first look takes note
    assert watcher.changed() == []
    (tmp_path / "a.py").write_text("x = 22\n")
    (tmp_path / "b.py").write_text("y = 1\n")
    (tmp_path / "notes.txt").write_text("still not code\n")
    assert watcher.changed() == ["a.py", "b.py"]
    os.remove(tmp_path / "b.py")
    assert watcher.changed() == ["b.py"]
    assert FolderWatcher(str(tmp_path / "gone")).changed() == []


def test_collection_waits_for_the_first_listing_and_a_large_one_is_frozen():
    code = (
        "import gc\n"
        "from dotui.tui.gcpause import StartupGC, FREEZE_AT\n"
        "small = StartupGC(); assert not gc.isenabled(); small.listed(10)\n"
        "assert gc.isenabled() and gc.get_freeze_count() == 0\n"
        "big = StartupGC(); big.listed(FREEZE_AT)\n"
        "assert gc.isenabled() and gc.get_freeze_count() > 0\n"
        "paused = StartupGC(); paused.resume(); paused.listed(FREEZE_AT); assert gc.isenabled()\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, env={**os.environ, "PYTHONPATH": root})
