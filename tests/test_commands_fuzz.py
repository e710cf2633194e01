"""Bad input in the command language: arbitrary text never gives a traceback, always a message.

The parser, the registry run against a real engine, and the batch runner end to
end (`dotui run -`, bytes on stdin) are each fed what hypothesis makes up from
the language's own words mixed with arbitrary text.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dotui.commands import Context, execute
from dotui.commands.parsing import ParseError
from dotui.commands.runner import parse_line
from dotui.examples import OBJECTS as BUNDLED_OBJECTS
from dotui.ops import LocalEngine
from tests.conftest import ROOT

# Words of the language, and values at its edges. Flags that make a command run for
# as long as asked (--times, --rate, --for) are left out: a fuzzer asking for a
# billion calls would be answered.
WORDS = [
    "classes",
    "ls",
    "call",
    "storage",
    "get",
    "put",
    "del",
    "queue",
    "history",
    "hibernate",
    "wake",
    "alarm",
    "reload",
    "stats",
    "help",
    "set",
    "delete",
    "--all",
    "--live",
    "--hibernated",
    "--page",
    "--json",
    "Counter/alice",
    "Counter/#",
    "Counter/#ab",
    "Counter",
    "Nope/x",
    "Account/a",
    "ApiUsage/bob",
    "/",
    "#",
    "Counter/alice.increment(",
    ")",
    "(",
    "increment",
    "peek",
    "by=",
    "=",
    "n",
    "'x'",
    '"',
    "'",
    "[",
    "]",
    "{",
    "}",
    ":",
    ",",
    "1",
    "-1",
    "0",
    "1e309",
    "nan",
    "+nan",
    "+inf",
    "+1e308",
    "+5",
    "1e-300",
    "99999999999999999999",
    "0x10",
    "True",
    "true",
    "None",
    "null",
    "\\",
    "\x00",
    "\ud800",
    "é",
    "😀",
    "2030-01-01T00:00:00Z",
    "#",
    "--",
    "-",
    "@",
    "$",
    ";",
    "|",
    "\t",
]
lines = st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=6)), max_size=8).map(" ".join)


@pytest.mark.slow
def test_the_parser_raises_only_its_own_error():
    @settings(max_examples=400, deadline=None)
    @given(lines)
    def check(line):
        try:
            parse_line(line)
        except ParseError as exc:
            assert exc.message

    check()


@pytest.fixture(scope="module")
def facade(tmp_path_factory):
    data = tmp_path_factory.mktemp("fuzz") / "data"
    with LocalEngine(BUNDLED_OBJECTS, str(data), idle_timeout=600) as fe:
        yield fe


@pytest.mark.slow
def test_every_line_runs_to_an_outcome_with_a_message(facade):
    ticks = iter(range(10**9))
    ctx = Context(facade, interactive=False, sleep=lambda s: None, clock=lambda: next(ticks) * 1000.0)

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(lines)
    def check(line):
        outcome = execute(ctx, line)
        if outcome is not None and not outcome.ok:
            assert outcome.error is not None and outcome.error.message.strip(), line

    check()


@pytest.mark.slow
def test_the_batch_runner_exits_0_1_or_2_with_a_message_and_no_traceback(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    scripts = st.lists(
        st.one_of(lines, st.binary(max_size=12).map(lambda b: b.decode("latin-1"))), min_size=1, max_size=4
    ).map("\n".join)

    @settings(max_examples=12, deadline=None)
    @given(scripts)
    def check(script):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "dotui.cli",
                "--objects",
                BUNDLED_OBJECTS,
                "--data",
                str(tmp_path / "d"),
                "--on-error",
                "continue",
                "run",
                "-",
            ],
            input=script.encode("utf-8", "surrogatepass"),
            capture_output=True,
            env=env,
            timeout=120,
        )
        err = proc.stderr.decode("utf-8", "replace")
        assert proc.returncode in (0, 1, 2), err
        assert "Traceback" not in err, err
        if proc.returncode:
            assert err.strip(), "a failure with no message"

    check()


@pytest.mark.parametrize(
    "line", ["call Counter/alice classes \ud800", 'Counter/alice.increment("\udcff")', "put Counter/alice k \ud800"]
)
def test_a_line_holding_a_lone_surrogate_is_a_usage_error_naming_it(line):
    # Invalid UTF-8 on stdin decodes to lone surrogates; the parser must say so, not crash.
    with pytest.raises(ParseError) as err:
        parse_line(line)
    assert "not valid text" in err.value.message and "column" in err.value.message
