"""Batch mode: run command lines from ``-c``, a script file or a pipe, and exit with a status.

Exit status: 0 every command went well; 1 a command failed; 2 a line could not
be read as a command (bad usage). With ``on_error="stop"`` the first failure
ends the run; with ``"continue"`` every line runs and the worst status wins.

A script is read as bytes, a line at a time, each at most ``MAX_LINE`` bytes
(1 MiB): a line that is longer, or is not UTF-8, is a usage error at its place
(``script.dotui:3``, with the byte offset), and memory stays bounded whatever
the file holds (docs/trust.md, "Script files, stdin and the command language").
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, TextIO

from ..commands import REGISTRY, Context, ErrorInfo, Outcome, Registry, execute
from ..commands.parsing import MAX_LINE
from ..ops import EngineFacade
from ..present.render import Renderer

OK, FAILED, USAGE = 0, 1, 2


@dataclass(frozen=True)
class Line:
    """A command line and where it came from (``script.dotui:3``), for error messages."""

    text: str
    where: str | None = None
    error: str | None = None  # the line could not be read (too long, not UTF-8): a usage error at ``where``


def lines_of(stream: TextIO | BinaryIO, name: str, limit: int = MAX_LINE) -> Iterator[Line]:
    """The lines of a script, read as they come (so a pipe is served line by line), each at most
    ``limit`` bytes (characters, for a text stream with no bytes under it). A longer line is skipped
    to its end, in bounded reads, when the next line is asked for. Memory O(limit), time O(size)."""
    source = getattr(stream, "buffer", stream)
    binary = not isinstance(source, io.TextIOBase)
    unit = "bytes" if binary else "characters"
    offset = 0  # of the line in the stream, for a message
    number = 0
    while True:
        raw = source.readline(limit + 1)
        if not raw:
            return
        number += 1
        where, start = f"{name}:{number}", offset
        offset += len(raw)
        if len(raw) > limit:
            yield Line(
                "",
                where,
                f"line {number} of {name} is longer than {limit:,} {unit} (the cap on one "
                "line of a script; is it a script?)",
            )
            offset += _skip_line(source)
            continue
        if isinstance(raw, bytes):
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                yield Line(
                    "",
                    where,
                    f"{name} is not UTF-8 text: byte {start + exc.start:,} "
                    f"({raw[exc.start : exc.start + 1]!r}, line {number}) does not decode",
                )
                continue
        else:
            text = raw
        yield Line(text.rstrip("\r\n"), where)


def _skip_line(source, chunk: int = 1 << 16) -> int:
    """Read past the rest of the current line; how much was read. Memory O(chunk)."""
    skipped = 0
    while True:
        part = source.readline(chunk)
        skipped += len(part)
        if not part or part[-1:] in (b"\n", "\n"):
            return skipped


def unreadable(line: Line) -> Outcome:
    """The usage error of a line that could not be read."""
    return Outcome(
        None,
        "",
        False,
        error=ErrorInfo(
            "UsageError", line.error or "", "save the script as UTF-8 text, one command a line", usage=True
        ),
    )


def status_of(outcome: Outcome) -> int:
    if outcome.ok:
        return OK
    assert outcome.error is not None
    return USAGE if outcome.error.usage else FAILED


def json_document(outcome: Outcome) -> str:
    """One ``--json`` document: one line, keys command, input, ok, result, error."""
    return json.dumps(outcome.to_dict(), ensure_ascii=False, default=str)


class BatchRunner:
    """Runs lines against a facade and reports each outcome (rendered, or as JSON)."""

    def __init__(
        self,
        facade: EngineFacade,
        renderer: Renderer,
        *,
        json_out: TextIO | None = None,
        on_error: str = "stop",
        registry: Registry = REGISTRY,
        echo: bool = False,
    ):
        """``echo`` prints each command line (and where it came from) before its result."""
        if on_error not in ("stop", "continue"):
            raise ValueError(f"on_error is {on_error!r}; use 'stop' or 'continue'")
        self.facade = facade
        self.renderer = renderer
        self.json_out = json_out
        self.on_error = on_error
        self.registry = registry
        self.echo = echo and json_out is None
        on_event = None if json_out is not None else renderer.event
        self.ctx = Context(facade, interactive=False, on_event=on_event)
        self.status = OK

    def fail(self, status: int) -> bool:
        """Record a failure; True if the run should go on."""
        self.status = max(self.status, status)
        return self.on_error == "continue"

    def run(self, lines: Iterable[Line]) -> int:
        """Run every line (or up to the first failure, or ``quit``); the exit status."""
        for line in lines:
            if self.echo and line.text.strip() and not line.text.lstrip().startswith("#"):
                self.renderer.echo(line.text.strip(), line.where)
            outcome = unreadable(line) if line.error is not None else execute(self.ctx, line.text, self.registry)
            if outcome is None:
                continue
            self.report(outcome, line.where)
            if not outcome.ok and not self.fail(status_of(outcome)):
                break
            if outcome.quit:
                break
        return self.status

    def report(self, outcome: Outcome, where: str | None) -> None:
        if self.json_out is None:
            self.renderer.outcome(outcome, where)
            return
        self.json_out.write(json_document(outcome) + "\n")
        self.json_out.flush()
        if not outcome.ok:
            assert outcome.error is not None
            self.renderer.error(outcome.error, where)
