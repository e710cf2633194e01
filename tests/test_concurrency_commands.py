"""Concurrency at a keypress in the command language: call --times N --concurrent, load, and a second engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from dotui.cli import main
from dotui.commands import Context, execute
from dotui.ops import LocalEngine


@pytest.fixture
def facade(objects: Path, tmp_path: Path):
    fe = LocalEngine(str(objects), str(tmp_path / "data"), idle_timeout=600).start()
    yield fe
    fe.close()


def run(facade, line: str, **kw):
    return execute(Context(facade, **kw), line)


def test_call_times_concurrent_makes_the_calls_overlap(facade):
    out = run(facade, "call Interleave/race bump_racy 0.2 --times 3 --concurrent")
    assert out.ok, out.error
    assert out.result["results"] == [1, 1, 1]  # three callers read n = 0: two updates lost
    assert facade.call("Interleave", "race", "peek") == 1
    seq = run(facade, "call Interleave/seq bump_racy 0 --times 3")
    assert seq.result["results"] == [1, 2, 3] and not seq.result["concurrent"]


def test_call_times_reports_each_error_and_concurrent_needs_times(facade):
    out = run(facade, "call Account/a deposit -5 --times 2 --concurrent")
    assert out.ok and [e["type"] for e in out.result["errors"]] == ["ValueError", "ValueError"]
    bad = run(facade, "call Counter/a increment --concurrent")
    assert not bad.ok and bad.error.usage and "--times" in bad.error.message
    assert run(facade, "Counter/a.increment(2)").result == 2  # the call form is unchanged


@pytest.mark.slow
def test_load_builds_a_queue_behind_a_slow_method(facade):
    out = run(facade, "load Interleave/busy bump_blocked 0.1 --rate 40 --for 0.5")
    assert out.ok, out.error
    r = out.result
    assert r["started"] == 20 and r["returned"] == 20 and r["raised"] == {}
    assert r["deepest_queue"] > 1  # started faster than served: calls waited in the queue
    assert facade.call("Interleave", "busy", "peek") == 20
    assert not run(facade, "load Interleave/busy peek --rate 0").ok


def test_a_second_engine_on_the_folder_is_told_how_to_attach(facade, objects, tmp_path, capsys):
    status = main(["--objects", str(objects), "--data", str(tmp_path / "data"), "-c", "stats"])
    err = capsys.readouterr().err
    assert status == 1
    assert "in use by another dotui engine" in err
    assert "--serve" in err and "--connect http://127.0.0.1:8787" in err
