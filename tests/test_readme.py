"""The README's set-up commands are what CI runs (a user types them; CI must too)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


def _setup_blocks() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    setup = text.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"\n([^\n]+):\n\n```sh\n(.*?)\n```", setup, re.S)
    return {intro: body for intro, body in blocks}


def test_ci_runs_the_readme_test_command_verbatim():
    readme = _setup_blocks()["Run the tests"]
    out = subprocess.run(
        ["bash", str(ROOT / ".ci" / "run"), "--print-command"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == readme
    assert "pytest" in readme and "python -m" not in readme and "PYTHONPATH" not in readme


@pytest.mark.slow
def test_tests_run_with_plain_pytest_from_the_checkout():
    # `pytest` (not `python -m pytest`) must find this checkout's dotui and tests.* helpers.
    pytest = Path(sys.executable).with_name("pytest")
    out = subprocess.run([str(pytest), "-q", "--co", "tests/test_ids.py"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ModuleNotFoundError" not in out.stdout + out.stderr


def test_docs_and_comments_cite_only_the_repositorys_own_docs():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    offenders = []
    for name in tracked:
        if name.startswith("bench/peer/node_modules") or not name.endswith((".py", ".md", ".tcss", ".js", ".mjs")):
            continue
        text = (ROOT / name).read_text(errors="replace")
        if re.search(r"DESIGN(\.md| §)", text) and name != "tests/test_readme.py":
            offenders.append(name)
    assert not offenders, f"these cite a design file that is not in the repository: {offenders}"


def test_the_set_up_says_to_make_a_virtual_environment_first():
    """A new user ran the README's pip install into the system's Python: the set-up starts with a venv."""
    text = (ROOT / "README.md").read_text()
    setup = text[text.index("## Set-up") :]
    assert "python3 -m venv" in setup and setup.index("python3 -m venv") < setup.index("pip install -e .")
