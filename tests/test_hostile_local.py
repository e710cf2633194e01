"""Local input is input: script files, stdin and the command language's literals (docs/trust.md, "Local input").

Whatever a script file, a pipe or a typed line holds (bytes that are not UTF-8, a line with no end, NUL bytes,
a device, literals nested 100,000 deep or a million items long), dotui answers a usage error naming what was
wrong and where (exit 2 in batch), never a traceback, and holds bounded memory while reading it.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dotui.commands import REGISTRY, parse_line
from dotui.commands.parsing import MAX_LINE, MAX_LITERAL_ITEMS, ParseError, parse_value
from dotui.engine.values import MAX_DEPTH
from dotui.repl.batch import lines_of

pytestmark = pytest.mark.hostile

ROOT = Path(__file__).resolve().parent.parent

ECHO = """
from dotui import DurableObject

class Echo(DurableObject):
    def echo(self, x=None):
        return x
"""


@pytest.fixture
def project(tmp_path):
    (tmp_path / "objects").mkdir()
    (tmp_path / "objects" / "echo.py").write_text(ECHO)
    return tmp_path


def dotui(project: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "dotui.cli",
            "--objects",
            str(project / "objects"),
            "--data",
            str(project / "data"),
            *args,
        ],
        input=stdin,
        capture_output=True,
        timeout=120,
        env=env,
        cwd=project,
    )


def clear_usage_error(proc: subprocess.CompletedProcess) -> str:
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 2, (proc.returncode, err[-2000:])
    assert "Traceback" not in err and "error" in err, err[-2000:]
    return err


# ---------------------------------------------------------------- script files
def test_a_script_that_is_not_utf8_is_a_usage_error_naming_the_file_and_the_byte(project):
    script = project / "latin1.dotui"
    script.write_bytes(b"Echo/x.echo(1)\nEcho/x.echo('caf\xe9')\n")
    proc = dotui(project, "run", str(script))
    err = clear_usage_error(proc)
    assert "latin1.dotui:2" in err and "not UTF-8" in err and "byte 31" in err and "\\xe9" in err
    assert proc.stdout.decode().strip() == "1"  # the line before it ran


@pytest.mark.slow
def test_a_script_that_is_not_a_regular_file_is_refused(project):
    err = clear_usage_error(dotui(project, "run", "/dev/zero"))
    assert "/dev/zero" in err and "a device, not a regular file" in err and "dotui run -" in err
    fifo = project / "pipe"
    os.mkfifo(fifo)  # no writer: opening it to read would wait for ever
    err = clear_usage_error(dotui(project, "run", str(fifo)))
    assert "a FIFO" in err
    assert "a folder" in clear_usage_error(dotui(project, "run", str(project)))


@pytest.mark.slow
def test_a_line_longer_than_the_cap_is_refused_and_the_next_line_runs(project):
    script = project / "long.dotui"
    with open(script, "wb") as f:
        f.write(b"Echo/x.echo('" + b"a" * (3 * MAX_LINE) + b"')\nEcho/x.echo(2)\n")
    proc = dotui(project, "--on-error", "continue", "run", str(script))
    err = clear_usage_error(proc)
    assert "long.dotui:1" in err and f"longer than {MAX_LINE:,} bytes" in err
    assert proc.stdout.decode().strip() == "2"


@pytest.mark.slow
def test_stdin_with_no_newline_is_bounded_by_the_line_cap(project):
    proc = dotui(project, "run", "-", stdin=b"x" * (5 * MAX_LINE))
    assert f"longer than {MAX_LINE:,} bytes" in clear_usage_error(proc)
    proc = dotui(project, "run", "-", stdin=b"Echo/x.echo(1)\n\xff\xfe\n")
    assert "<stdin>:2" in clear_usage_error(proc) and proc.stdout.decode().strip() == "1"


@pytest.mark.slow
def test_nul_bytes_and_a_truncated_character_are_usage_errors(project):
    script = project / "nul.dotui"
    script.write_bytes(b"Echo/x.echo('a\x00b')\n")
    assert "NUL" in clear_usage_error(dotui(project, "run", str(script)))
    script.write_bytes(b"Echo/x.echo(1)\nEcho/x.echo('\xc3")  # cut in the middle of a UTF-8 character
    assert "not UTF-8" in clear_usage_error(dotui(project, "run", str(script)))


@pytest.mark.slow
def test_a_bom_and_crlf_line_ends_are_read_as_text(project):
    script = project / "windows.dotui"
    script.write_bytes(b"\xef\xbb\xbfEcho/x.echo(1)\r\nEcho/x.echo(2)\r\n")
    proc = dotui(project, "run", str(script))
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.decode().split() == ["1", "2"]


# ---------------------------------------------------------------- literals
HOSTILE_LITERALS = {
    "brackets 10^5 deep": "[" * 100_000 + "]" * 100_000,
    "dicts 10^5 deep": "{'a':" * 100_000 + "1" + "}" * 100_000,
    "brackets just past the bound": "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
    "a unary chain of 10^5": "-" * 100_000 + "1",
    "an operator chain of 10^5": "1" + "+1" * 100_000,
    "10^6 items": "[" + "1," * 1_000_000 + "]",
    "an unclosed string of 10^5": "'" + "a" * 100_000,
    "a 5,000-digit int": "1" * 5000,
}


@pytest.mark.slow
@pytest.mark.parametrize("shape", list(HOSTILE_LITERALS))
def test_a_pathological_literal_is_a_usage_error(project, shape):
    literal = HOSTILE_LITERALS[shape]
    lines = [f"Echo/x.echo({literal})", f"put Echo/x k {literal}", f"call Echo/x echo {literal}"]
    for line in lines:
        with pytest.raises(ParseError):
            parse_line(line, REGISTRY)
    proc = dotui(project, "--on-error", "continue", "run", "-", stdin="\n".join(lines).encode() + b"\n")
    err = clear_usage_error(proc)
    assert err.count("error: ") == 3


@pytest.mark.slow
def test_literals_within_the_bounds_still_read():
    assert parse_value("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    assert parse_value("-" * 50 + "1") == 1 and parse_value("-" * 51 + "1") == -1
    assert len(parse_value("[" + "1," * (MAX_LITERAL_ITEMS - 2) + "]")) == MAX_LITERAL_ITEMS - 2
    assert parse_value("'a,b:[c'") == "a,b:[c"  # separators inside strings are not items


def test_the_line_cap_holds_for_a_typed_line_too():
    with pytest.raises(ParseError, match="more than"):
        parse_line("Echo/x.echo('" + "a" * MAX_LINE + "')", REGISTRY)


# ---------------------------------------------------------------- fuzz
@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=400)
    | st.lists(
        st.sampled_from(
            [b"\n", b"\r\n", b"\x00", b"\xff", b"\xc3", b"\xef\xbb\xbf", b"ls", b"Echo/x.echo(", b"[", b"'", b"a" * 50]
        ),
        max_size=40,
    ).map(b"".join)
)
def test_any_bytes_read_as_lines_or_a_usage_error(data):
    for line in lines_of(io.BytesIO(data), "fuzz", limit=64):
        assert line.error is not None or len(line.text) <= 64
        if line.error is None:
            try:
                parse_line(line.text, REGISTRY)
            except ParseError as exc:
                assert exc.message


_ATOMS = st.sampled_from(
    [
        "1",
        "-",
        "+",
        "'x'",
        '"y"',
        "true",
        "null",
        ",",
        ":",
        "[",
        "]",
        "{",
        "}",
        "(",
        ")",
        "=",
        "a",
        "1e999",
        "\\",
        "'",
        "\x00",
        "\ud800",
        "\x9b",
        " ",
        "*",
        "**",
        "f(",
        ".5",
    ]
)


@pytest.mark.slow
@settings(max_examples=500, deadline=None)
@given(st.lists(_ATOMS, max_size=60).map("".join), st.integers(0, 3000))
def test_any_literal_is_a_value_or_a_parse_error(text, repeat):
    for line in (
        f"Echo/x.echo({text})",
        f"put Echo/x k {text}",
        f"call Echo/x echo {text}",
        f"Echo/x.echo({'[' * repeat}{text}{']' * repeat})",
        f"put Echo/x k {'-' * repeat}{text}",
    ):
        try:
            parse_line(line, REGISTRY)
        except ParseError as exc:
            assert exc.message


# ---------------------------------------------------------------- control characters
@pytest.mark.slow
def test_results_and_error_messages_print_no_control_characters(project):
    (project / "objects" / "echo.py").write_text(ECHO + "\n    def fail(self, m):\n        raise ValueError(m)\n")
    hostile = "a\\x9b2J\\x1b[2J\\x9d52;c;x\\x07\\r"
    proc = dotui(
        project, "--on-error", "continue", "-c", f"Echo/x.echo('{hostile}')", "-c", f"Echo/x.fail('{hostile}')"
    )
    out = proc.stdout.decode() + proc.stderr.decode()
    assert not [c for c in out if (ord(c) < 0x20 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0], out
    assert "\\u009b2J" in out and "\\u001b[2J" in out
