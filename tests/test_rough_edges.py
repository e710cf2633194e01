"""Rough edges a new user met on a first try, each fixed and kept fixed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dotui.cli import main

BUNDLED = Path(__file__).resolve().parent.parent / "objects"


@pytest.fixture
def objects(tmp_path: Path) -> Path:
    return Path(shutil.copytree(BUNDLED, tmp_path / "objects"))


def test_run_echo_prints_each_command_beside_its_result(objects, tmp_path, capsys):
    script = tmp_path / "s.dotui"
    script.write_text("Counter/a.increment(41)\n# a comment is not echoed\nCounter/a.increment()\n")
    status = main(["--objects", str(objects), "--data", str(tmp_path / "data"), "run", str(script), "--echo"])
    out = capsys.readouterr().out.splitlines()
    assert status == 0
    assert out[0].startswith("› Counter/a.increment(41)") and out[0].endswith("s.dotui:1")
    assert out[1] == "41"
    assert out[2].startswith("› Counter/a.increment()") and out[3] == "42"
    assert not any("comment" in line for line in out)
