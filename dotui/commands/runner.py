"""Running a command line: parse it, run it against a facade, describe what happened.

``execute(ctx, line)`` never raises for a user's mistake or an object's
exception: it returns an ``Outcome`` whose ``error`` says what went wrong, with a
suggestion when one is known, and the user's own frames of a traceback.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..engine.errors import (
    BrokenObjectError,
    InvalidIdError,
    MethodNotFoundError,
    NamespaceNotFoundError,
    OverloadedError,
)
from ..engine.frames import user_frames
from ..ops import EngineFacade
from .parsing import CallForm, ParseError, Ref, did_you_mean, parse_call_form, parse_ref, strip_comment, tokenize
from .registry import Parsed, Registry


class CommandError(Exception):
    """A command could not do what was asked. ``hint`` says what to do instead."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass
class Context:
    """What a command runs with: the facade, and how the front end wants streams and waits.

    ``interactive`` is true at a prompt (``watch`` may then run until Ctrl-C);
    ``on_event`` receives each event ``watch`` streams, as it arrives.
    """

    facade: EngineFacade
    interactive: bool = False
    on_event: Callable[[dict], None] | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    read_line: Callable[[str], str | None] | None = None  # at a prompt: one typed line (None at its end), for ws


@dataclass
class ErrorInfo:
    """What went wrong. ``usage`` is true when the line itself could not be read."""

    type: str
    message: str
    hint: str | None = None
    traceback: list[dict[str, Any]] = field(default_factory=list)
    usage: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "message": self.message,
            "hint": self.hint,
            "traceback": self.traceback,
            "usage": self.usage,
        }


@dataclass
class Outcome:
    """The result of one command line: data for a front end to render, never text."""

    command: str | None
    input: str
    ok: bool
    result: Any = None
    error: ErrorInfo | None = None

    @property
    def quit(self) -> bool:
        return self.ok and self.command == "quit"

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` document: always these five keys."""
        return {
            "command": self.command,
            "input": self.input,
            "ok": self.ok,
            "result": self.result if self.ok else None,
            "error": self.error.to_dict() if self.error is not None else None,
        }


# ---------------------------------------------------------------- reading
def parse_line(line: str, registry: Registry | None = None) -> Parsed | None:
    """The command on ``line``; None for a blank line or a comment. Raises ParseError."""
    registry = registry or _default_registry()
    text = strip_comment(line)
    if not text:
        return None
    tokens = [t.text for t in tokenize(text).items]
    word = tokens[0]
    cmd = registry.get(word)
    if cmd is not None:
        return registry.parse_tokens(cmd, tokens[1:], text)
    if "/" in word and not word.startswith("/"):
        form = parse_call_form(text)
        if form is not None:
            return call_parsed(form, registry, text)
        raise _not_a_call(text, tokens)
    registry.lookup(word)  # raises, with the closest command
    raise AssertionError("unreachable")  # pragma: no cover


def call_parsed(form: CallForm, registry: Registry, line: str) -> Parsed:
    cmd = registry.commands["call"]
    values: dict = {opt.dest: (None if opt.kind else False) for opt in cmd.options}
    values.update({"ref": form.ref, "method": form.method, "args": (form.args, form.kwargs)})
    return Parsed(cmd, values, line)


def _not_a_call(text: str, tokens: list[str]) -> ParseError:
    first = tokens[0]
    ref = parse_ref(first.rstrip("."))  # raises for a malformed reference
    assert isinstance(ref, Ref)
    if len(tokens) == 1 and first.endswith("."):
        return ParseError(
            f"{first!r} names no method after the dot",
            f"write {ref}.METHOD(ARGS); Tab lists the methods; classes shows them",
        )
    if len(tokens) == 1:
        return ParseError(
            f"{first} is an object; say what to do with it",
            f"call a method: {ref}.METHOD(ARGS); see its storage: storage {ref}",
        )
    return ParseError(
        f"cannot read {text!r} as a call", f"write {ref}.METHOD(ARG, key=ARG) or call {ref} METHOD ARG key=ARG"
    )


# ---------------------------------------------------------------- running
def execute(ctx: Context, line: str, registry: Registry | None = None) -> Outcome | None:
    """Parse and run one line; None for a blank line or a comment."""
    registry = registry or _default_registry()
    try:
        parsed = parse_line(line, registry)
    except ParseError as exc:
        word = line.strip().split(maxsplit=1)[0] if line.strip() else ""
        cmd = registry.get(word)
        name = cmd.name if cmd else ("call" if "/" in word else None)
        return Outcome(name, line.strip(), False, error=ErrorInfo("UsageError", exc.message, exc.hint, usage=True))
    if parsed is None:
        return None
    return run(ctx, parsed)


def run(ctx: Context, parsed: Parsed) -> Outcome:
    """Run a parsed command; its result, or what went wrong."""
    name = parsed.command.name
    try:
        result = parsed.command.run(ctx, **parsed.values)
    except ParseError as exc:
        return Outcome(name, parsed.line, False, error=ErrorInfo("UsageError", exc.message, exc.hint, usage=True))
    except CommandError as exc:
        return Outcome(name, parsed.line, False, error=ErrorInfo("CommandError", exc.message, exc.hint))
    except KeyboardInterrupt:
        return Outcome(name, parsed.line, False, error=ErrorInfo("Interrupted", *_interrupted(parsed)))
    except Exception as exc:  # noqa: BLE001 - an object's exception is data for the front end
        return Outcome(name, parsed.line, False, error=describe_exception(exc, ctx, parsed))
    return Outcome(name, parsed.line, True, result)


def _interrupted(parsed: Parsed) -> tuple[str, str | None]:
    if parsed.command.name == "call":
        ref = parsed.values["ref"]
        return (
            "stopped waiting for the call; it goes on inside the object",
            f"see it with: queue {ref}, then history {ref}",
        )
    return (f"{parsed.command.name} interrupted", None)


def describe_exception(exc: BaseException, ctx: Context, parsed: Parsed | None = None) -> ErrorInfo:
    """An exception as an ErrorInfo: its type, message, a hint, and the user's own frames."""
    message = str(exc) or type(exc).__name__
    return ErrorInfo(type(exc).__name__, message, hint_for(exc, ctx, parsed), user_frames(exc))


def hint_for(exc: BaseException, ctx: Context, parsed: Parsed | None) -> str | None:
    """A suggestion for a known kind of failure (closest method, namespace, object name)."""
    if isinstance(exc, MethodNotFoundError):
        return did_you_mean(exc.method, exc.callable_methods) or f"classes {exc.namespace} shows its methods"
    if isinstance(exc, NamespaceNotFoundError):
        return did_you_mean(exc.name, exc.known) or "classes lists the namespaces (one per DurableObject class)"
    if isinstance(exc, InvalidIdError):
        ref = parsed.values.get("ref") if parsed else None
        ns = ref.namespace if isinstance(ref, Ref) else None
        return f"ls {ns} lists the ids" if ns else "ls lists the ids"
    if isinstance(exc, OverloadedError):
        return "too many calls are queued; wait for them (queue REF shows them)"
    if isinstance(exc, BrokenObjectError):
        return "fix the class or its file, then reload; the next call tries again"
    if isinstance(exc, TypeError) and parsed is not None and parsed.command.name == "call" and not user_frames(exc):
        return _signature_hint(ctx, parsed)
    return None


def _signature_hint(ctx: Context, parsed: Parsed) -> str | None:
    ref, method = parsed.values["ref"], parsed.values["method"]
    try:
        for ns in ctx.facade.namespaces():
            if ns["name"] == ref.namespace:
                for m in ns["methods"]:
                    if m["name"] == method:
                        return f"{ref.namespace}.{method}{m['signature']}"
    except Exception:  # noqa: BLE001 - a hint is a nicety
        return None
    return None


def _default_registry() -> Registry:
    from . import REGISTRY

    return REGISTRY
