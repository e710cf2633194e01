"""The storage scenario run on dotui and on workerd, diffed (needs bench/peer/node_modules)."""

import asyncio
import shutil
import sys

import pytest

from tests.conftest import ROOT

PEER = ROOT / "bench" / "peer"

pytestmark = pytest.mark.skipif(
    not (PEER / "node_modules" / "miniflare").is_dir() or shutil.which("node") is None,
    reason="the workerd peer is not installed: run `npm ci` in bench/peer (needs Node.js 20+) to compare behaviour",
)


@pytest.mark.slow
async def test_every_difference_from_workerd_is_deliberate():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import behaviour
    finally:
        sys.path.remove(str(ROOT / "bench"))
    ours = await behaviour.run_dotui()
    theirs = behaviour.run_peer()
    assert set(theirs) - set(ours) == set(behaviour.ONLY_PEER), "steps the dotui side does not run"
    unexpected = [(k, a, b) for k, a, b in behaviour.diff(ours, theirs) if k not in behaviour.DELIBERATE]
    assert not unexpected, f"differences from workerd that are neither fixed nor listed as deliberate: {unexpected}"
    # The deliberate ones are real: dotui enforces the production limits.
    assert ours["put(key of 2049 bytes)"].startswith("ValueError: Keys cannot be larger than 2048 bytes")
    assert ours["get(129 keys)"].startswith("ValueError: A batch get takes at most 128 keys")
    # The input gate's order (README, "Semantics"), the same on both.
    assert (
        ours["3 overlapping bump_blocked, then peek"] == theirs["3 overlapping bump_blocked, then peek"] == [1, 2, 3, 3]
    )
    assert ours["2 overlapping bump_racy, then peek"] == theirs["2 overlapping bump_racy, then peek"] == [1, 1, 0]


@pytest.mark.slow
async def test_websockets_behave_as_on_workerd():
    """The Hibernation API scenario (bench/behaviour.py, ws_scenario) through both gateways, one client."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import behaviour
    finally:
        sys.path.remove(str(ROOT / "bench"))
    ours = await behaviour.run_ws_dotui()
    theirs = await asyncio.to_thread(behaviour.run_ws_peer)
    assert set(ours) == set(theirs)
    unexpected = [(k, a, b) for k, a, b in behaviour.diff(ours, theirs) if k not in behaviour.DELIBERATE]
    assert not unexpected, f"WebSocket differences from workerd neither fixed nor listed as deliberate: {unexpected}"
    assert ours["ws: ping (auto-response)"] == theirs["ws: ping (auto-response)"] == "pong"
    assert ours["ws: server close(4000, 'bye')"] == {"closed": 4000, "reason": "bye"}
    assert ours["ws: serializeAttachment(string of 20000)"].startswith(
        "ValueError: A WebSocket 'attachment' cannot be larger than 16384 bytes."
    )


async def test_sql_behaves_as_on_workerd():
    """The SQL steps (bench/sql_scenario.py) on both, live; and workerd's answers are still the ones
    recorded in bench/peer/sql_expected.json, the oracle tests/test_sql_workerd.py runs without Node."""
    import json

    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import behaviour
        import sql_scenario
    finally:
        sys.path.remove(str(ROOT / "bench"))
    theirs = await asyncio.to_thread(sql_scenario.run_peer)
    assert theirs == json.loads((ROOT / "bench" / "peer" / "sql_expected.json").read_text()), (
        "workerd answers differently from bench/peer/sql_expected.json: record it again with "
        "python bench/sql_scenario.py --record"
    )
    ours = sql_scenario.flatten(await sql_scenario.run_dotui(behaviour.engine_on))
    unexpected = [
        d for d in sql_scenario.diff(ours, sql_scenario.flatten(theirs)) if d[0] not in sql_scenario.DELIBERATE
    ]
    assert not unexpected, f"SQL differences from workerd neither fixed nor listed as deliberate: {unexpected}"


@pytest.mark.slow
def test_block_concurrency_while_nests_as_deep_as_on_workerd():
    """bench/nesting.py: each runtime's Worker nests blockConcurrencyWhile 1 to 5,000 deep in one object."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import nesting
    finally:
        sys.path.remove(str(ROOT / "bench"))
    depths = [1, 500, 5000]  # 500 and more ended in a RecursionError when levels shared one coroutine chain
    theirs = nesting.run_peer(depths)
    assert theirs == {str(d): "200 bottom" for d in depths}, "workerd answers differently: see bench/nesting.py"
    assert nesting.run_dotui(depths) == theirs
