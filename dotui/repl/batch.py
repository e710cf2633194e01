"""Batch mode: run command lines from ``-c``, a script file or a pipe, and exit with a status.

Exit status: 0 every command went well; 1 a command failed; 2 a line could not
be read as a command (bad usage). With ``on_error="stop"`` the first failure
ends the run; with ``"continue"`` every line runs and the worst status wins.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable, Iterator, TextIO

from ..engine.facade import EngineFacade
from ..commands import REGISTRY, Context, Outcome, Registry, execute
from ..present.render import Renderer

OK, FAILED, USAGE = 0, 1, 2


@dataclass(frozen=True)
class Line:
    """A command line and where it came from (``script.dotui:3``), for error messages."""

    text: str
    where: str | None = None


def lines_of(stream: TextIO, name: str) -> Iterator[Line]:
    """The lines of a script, read as they come (so a pipe is served line by line)."""
    for number, text in enumerate(stream, start=1):
        yield Line(text.rstrip("\n"), f"{name}:{number}")


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

    def __init__(self, facade: EngineFacade, renderer: Renderer, *, json_out: TextIO | None = None,
                 on_error: str = "stop", registry: Registry = REGISTRY, echo: bool = False):
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
            outcome = execute(self.ctx, line.text, self.registry)
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
