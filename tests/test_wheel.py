"""dotui from its wheel, in a fresh virtual environment, in an empty folder (tests/wheel_smoke.py): the bundled
examples are listed, the tour's claims hold, and a project made by `dotui init` passes its own tests."""

import pytest

from wheel_smoke import check


@pytest.mark.slow
def test_the_wheel_installs_and_works_in_an_empty_folder(tmp_path):
    out = check(tmp_path, say=lambda _line: None)
    assert "examples/objects" not in out["dotui"] and "tour check" in out["tour"]
    assert " passed" in out["pytest"] and "failed" not in out["pytest"]
