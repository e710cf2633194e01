"""The README's set-up commands are what CI runs (a user types them; CI must too)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def _setup_blocks() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    setup = text.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"\n([^\n]+):\n\n```sh\n(.*?)\n```", setup, re.S)
    return {intro: body for intro, body in blocks}


def test_ci_runs_the_readme_test_command_verbatim():
    readme = _setup_blocks()["Run the tests"]
    out = subprocess.run(["bash", str(ROOT / ".ci" / "run"), "--print-command"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == readme
    assert "pytest" in readme and "python -m" not in readme and "PYTHONPATH" not in readme


def test_tests_run_with_plain_pytest_from_the_checkout():
    # `pytest` (not `python -m pytest`) must find this checkout's dotui and tests.* helpers.
    pytest = Path(sys.executable).with_name("pytest")
    out = subprocess.run([str(pytest), "-q", "--co", "tests/test_ids.py"], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ModuleNotFoundError" not in out.stdout + out.stderr
