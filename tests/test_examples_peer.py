"""Cloudflare's Durable Objects docs examples: the JavaScript on workerd and the Python Workers port on dotui
answer the same requests the same (bench/examples_scenario.py; needs bench/peer/node_modules)."""

import shutil
import sys

import pytest

from tests.conftest import ROOT

PEER = ROOT / "bench" / "peer"

pytestmark = pytest.mark.skipif(
    not (PEER / "node_modules" / "miniflare").is_dir() or shutil.which("node") is None,
    reason="the workerd peer is not installed: run `npm ci` in bench/peer (needs Node.js 20+) to compare behaviour",
)


def test_every_example_answers_as_its_javascript_does_on_workerd():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import examples_scenario
    finally:
        sys.path.remove(str(ROOT / "bench"))
    ours = examples_scenario.flatten(examples_scenario.run_dotui())
    theirs = examples_scenario.flatten(examples_scenario.run_peer())
    assert set(ours) == set(theirs) and len(ours) >= 20
    unexpected = [d for d in examples_scenario.diff(ours, theirs) if d[0] not in examples_scenario.DELIBERATE]
    assert not unexpected, unexpected
