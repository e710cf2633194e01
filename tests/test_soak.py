"""A short run of the crash and fault soak (bench/soak.py): the full one runs 200+ rounds from bench/."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.slow]


def test_a_short_soak_loses_nothing_and_never_hangs(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "soak.py"),
            "--rounds",
            "8",
            "--seed",
            "1",
            "--data",
            str(tmp_path),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["rounds"] == 8 and report["kills"] == 4 and report["faults"] == 4
    assert report["acknowledged"] > 1000, "the child barely ran"
    kinds = report["acknowledged_by_kind"]
    assert all(kinds.get(k, 0) > 0 for k in ("increment", "ledger", "bin", "waker", "fan", "ws")), kinds
    assert report["calls_failed_by_faults"] > 0, (
        "no injected fault reached a call: the fault seam is not on the write path"
    )
    assert (report["losses"], report["unreadable_files"], report["hangs"], report["not_serving_after_fault"]) == (
        0,
        0,
        0,
        0,
    ), report["findings"]
    assert proc.returncode == 0
