"""What the front ends print holds no control character: names, results, storage, events, errors, messages.

Every C0 control (but newline and tab), DEL and every C1 control (U+0080-U+009F, the 8-bit CSI and OSC a
terminal obeys), and the ESC sequences CSI 2J and OSC 52, are put where an object, a client or a data
folder can put them; the bytes ``-c`` writes, the REPL renderer's and the TUI command bar's output must
show them escaped (docs/trust.md, "What the front ends print: control characters").
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.text import Text

from dotui.present.render import Printable, Renderer, make_console

pytestmark = pytest.mark.hostile

ROOT = Path(__file__).resolve().parent.parent
CONTROLS = "".join(chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)] if chr(c) not in "\n\t")
HOSTILE = "n" + CONTROLS + "\x1b[2J\x1b]52;c;aGk=\x07\x9b2J\x9d52;c;aGk=\x9c"

OBJECT = '''
from dotui import DurableObject

class Echo(DurableObject):
    """Echo\x9b2J\x1b[2J docs."""
    def echo(self, x=None):
        """echo\x9b2J\x1b]52;c;aGk=\x07 back."""
        return x

    def keep(self, k, v):
        self.ctx.storage.put(k, v)
        return v

    def fail(self, m):
        raise ValueError(m)
'''


def raw_controls(text: str) -> list[str]:
    return sorted({f"U+{ord(c):04X}" for c in text if (ord(c) < 0x20 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0})


@pytest.mark.slow
def test_dash_c_prints_names_results_storage_errors_and_docs_escaped(tmp_path):
    (tmp_path / "objects").mkdir()
    (tmp_path / "objects" / "echo.py").write_text(OBJECT)
    ref = "Echo/" + repr(HOSTILE)
    lit = repr(HOSTILE)
    lines = [
        f"{ref}.echo({lit})",
        f"{ref}.keep({lit}, {lit})",
        f"put {ref} {lit} {lit}",
        f"storage {ref}",
        f"get {ref} {lit}",
        "ls",
        f"history {ref}",
        f"{ref}.fail({lit})",
        "classes",
        "stats",
    ]
    args = [a for line in lines for a in ("-c", line)]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dotui.cli",
            "--objects",
            str(tmp_path / "objects"),
            "--data",
            str(tmp_path / "data"),
            "--on-error",
            "continue",
            *args,
        ],
        capture_output=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
    )
    out = proc.stdout.decode("utf-8") + proc.stderr.decode("utf-8")
    assert "Traceback" not in out, out[-3000:]
    assert raw_controls(out) == [], out[-3000:]
    assert "\\u009b2J" in out and "\\u001b[2J" in out and "\\u001b]52;c;aGk=\\u0007" in out, out[-3000:]
    assert "ValueError" in out and "docs." in out


def rendered(show) -> str:
    buf = io.StringIO()
    show(Renderer(make_console(buf, terminal=True, width=200)))
    return buf.getvalue()


@pytest.mark.parametrize(
    "show",
    [
        lambda r: r.ws({"messages": [{"direction": "in", "text": HOSTILE}, {"direction": "out", "text": HOSTILE}]}),
        lambda r: r.event(
            {
                "t": 0.0,
                "kind": "call",
                "object": HOSTILE,
                "namespace": "Echo",
                "method": HOSTILE,
                "result": HOSTILE,
                "error": HOSTILE,
            }
        ),
        lambda r: r.notice(HOSTILE),
        lambda r: r.value({HOSTILE: [HOSTILE]}),
    ],
    ids=["ws", "event", "notice", "value"],
)
def test_on_a_terminal_only_rich_styles_are_escape_sequences(show):
    out = rendered(show)
    # A terminal console styles with SGR (ESC [ ... m); nothing else of the text may be a control.
    import re

    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)
    assert raw_controls(plain) == [], out
    assert "\\u009b2J" in plain


def test_printable_wraps_any_renderable():
    buf = io.StringIO()
    make_console(buf, terminal=False).print(Printable(Text(HOSTILE)), HOSTILE)
    assert raw_controls(buf.getvalue()) == []
    assert buf.getvalue().count("\\u001b[2J") == 2
