"""`dotui serve`'s garbage-collection policy (dotui/server/gcpolicy.py): applied once its engine has started,
undone when it stops, and garbage cycles are still collected under it."""

from __future__ import annotations

import gc
import io
import weakref

import pytest

from dotui.server import cli as server_cli
from dotui.server import gcpolicy


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_a_cycle_of_garbage_is_still_collected_under_the_policy():
    was = gcpolicy.settle_after_start()
    try:
        assert gc.isenabled()
        c = Cycle()
        gone = weakref.ref(c)
        del c
        alive = []
        for _ in range(gcpolicy.YOUNG * 2):  # net allocations past the young threshold: a young pass runs
            alive.append([])
        assert gone() is None, "a young collection past the threshold frees a cycle"
    finally:
        gcpolicy.restore(was)
    assert gc.get_threshold() == was and gc.get_freeze_count() == 0


@pytest.mark.parametrize("policy", ["latency", "cpython"])
def test_dotui_serve_applies_it_while_serving_when_asked_and_undoes_it_when_it_stops(tmp_path, monkeypatch, policy):
    objects = tmp_path / "objects"
    objects.mkdir()
    (objects / "counter.py").write_text(
        "from dotui import DurableObject\n\n"
        "class Counter(DurableObject):\n"
        "    async def increment(self):\n"
        "        return 1\n"
    )
    before = gc.get_threshold()
    seen = []

    async def stopped() -> None:  # what the process sees while serving, then its Ctrl-C
        seen.append((gc.get_threshold(), gc.get_freeze_count()))

    monkeypatch.setattr(server_cli, "until_stopped", stopped)
    out, err = io.StringIO(), io.StringIO()
    rc = server_cli.serve_main(
        str(objects), str(tmp_path / "data"), host="127.0.0.1", port=0, out=out, err=err, gc_policy=policy
    )
    assert rc == 0, err.getvalue()
    ((threshold, frozen),) = seen
    if policy == "latency":
        assert threshold == (gcpolicy.YOUNG, gcpolicy.MIDDLE, gcpolicy.FULL)
        assert frozen > 0, "the heap alive at start is out of the collector's passes"
    else:  # the default: CPython's own, whose memory stays flat in bench/longrun.py
        assert (threshold, frozen) == (before, 0)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
