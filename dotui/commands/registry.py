"""The command registry: each command is declared once, with what it takes.

The declaration (name, aliases, help, argument kinds, examples) serves every
front end: the parser reads lines with it, the completer knows what comes next
from it, ``help`` prints it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .parsing import (
    ParseError,
    Ref,
    did_you_mean,
    parse_arg_tokens,
    parse_number,
    parse_ref,
    parse_value,
    parse_word,
)


class Kind(enum.Enum):
    """What an argument is: how it is read, and what the completer offers for it."""

    REF = "REF"  # Namespace/name or Namespace/#hex
    TARGET = "REF|NS"  # a REF, or a bare Namespace
    NAMESPACE = "NS"
    METHOD = "METHOD"  # a method of the class of the preceding REF
    ARGS = "ARG ..."  # the rest: literals and key=literal
    KEY = "KEY"  # a storage key: quoted, or as typed
    VALUE = "VALUE"  # a literal
    PREFIX = "PREFIX"  # a key prefix: quoted, or as typed
    SECONDS = "SECONDS"  # a number >= 0
    COUNT = "N"  # a whole number >= 1
    RATE = "PER_SECOND"  # a number > 0 of events a second
    WHEN = "WHEN"  # +SECONDS, an ISO time, or epoch seconds
    COMMAND = "COMMAND"  # a command name
    WORD = "WORD"  # one of ``choices``
    TEXT = "TEXT"  # free text (a SQL query, a bookmark): quoted, or as typed; nothing to complete


@dataclass(frozen=True)
class Arg:
    name: str
    kind: Kind
    optional: bool = False
    choices: tuple[str, ...] = ()
    help: str = ""

    @property
    def metavar(self) -> str:
        if self.kind is Kind.WORD:
            return "|".join(self.choices)
        return self.name.upper() if self.kind in (Kind.VALUE, Kind.TEXT) else self.kind.value


@dataclass(frozen=True)
class Option:
    """``--name`` (a switch) or ``--name VALUE`` (when ``kind`` is given)."""

    flag: str
    dest: str
    kind: Kind | None = None
    help: str = ""


@dataclass
class Command:
    name: str
    run: Callable[..., Any]
    summary: str
    usage: str
    args: tuple[Arg, ...] = ()
    options: tuple[Option, ...] = ()
    aliases: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    details: str = ""

    def option(self, flag: str) -> Option | None:
        for opt in self.options:
            if opt.flag == flag:
                return opt
        return None

    def describe(self) -> dict[str, Any]:
        """The command's help as data (``help`` returns it; front ends render it)."""
        return {
            "name": self.name,
            "aliases": list(self.aliases),
            "usage": self.usage,
            "summary": self.summary,
            "details": self.details,
            "arguments": [
                {"name": a.metavar, "kind": a.kind.name.lower(), "optional": a.optional, "help": a.help}
                for a in self.args
            ],
            "options": [
                {"flag": o.flag + (f" {o.kind.value}" if o.kind else ""), "help": o.help} for o in self.options
            ],
            "examples": list(self.examples),
        }


@dataclass
class Parsed:
    """A command line read against the registry: the command and its argument values."""

    command: Command
    values: dict[str, Any] = field(default_factory=dict)
    line: str = ""


class Registry:
    def __init__(self) -> None:
        self.commands: dict[str, Command] = {}
        self._by_alias: dict[str, Command] = {}

    def command(
        self,
        name: str,
        *,
        summary: str,
        usage: str,
        args: tuple[Arg, ...] = (),
        options: tuple[Option, ...] = (),
        aliases: tuple[str, ...] = (),
        examples: tuple[str, ...] = (),
        details: str = "",
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register ``fn(ctx, **values)`` as a command; ``values`` are named after args and options."""

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            cmd = Command(
                name, fn, summary, usage, tuple(args), tuple(options), tuple(aliases), tuple(examples), details
            )
            for word in (name, *aliases):
                if word in self._by_alias:
                    raise ValueError(f"command word {word!r} is registered twice")
                self._by_alias[word] = cmd
            self.commands[name] = cmd
            return fn

        return register

    def get(self, word: str) -> Command | None:
        return self._by_alias.get(word)

    def words(self) -> list[str]:
        """Every name and alias."""
        return list(self._by_alias)

    def lookup(self, word: str) -> Command:
        cmd = self._by_alias.get(word)
        if cmd is None:
            hint = did_you_mean(word, self.words()) or "type help to list the commands"
            if "/" in word:
                hint = "to call a method write Namespace/name.method(args), e.g. Counter/alice.increment(5)"
            raise ParseError(f"unknown command {word!r}", hint)
        return cmd

    # ------------------------------------------------------------ reading lines
    def parse_tokens(self, cmd: Command, tokens: list[str], line: str = "") -> Parsed:
        """Assign tokens to the command's options and arguments, reading each by its kind."""
        values: dict[str, Any] = {opt.dest: (None if opt.kind else False) for opt in cmd.options}
        positional: list[str] = []
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            rest_started = bool(cmd.args) and cmd.args[-1].kind is Kind.ARGS and len(positional) >= len(cmd.args) - 1
            if tok.startswith("--") and (not rest_started or cmd.option(tok) is not None):
                opt = cmd.option(tok)
                if opt is None:
                    known = [o.flag for o in cmd.options]
                    hint = did_you_mean(tok, known) or (
                        f"{cmd.name} takes {', '.join(known)}" if known else f"{cmd.name} takes no options"
                    )
                    raise ParseError(f"{cmd.name} has no option {tok}", _with_usage(hint, cmd))
                if opt.kind is None:
                    values[opt.dest] = True
                else:
                    if i + 1 >= len(tokens):
                        raise ParseError(f"{tok} needs a value ({opt.kind.value})", _with_usage(None, cmd))
                    values[opt.dest] = read_arg(Arg(opt.dest, opt.kind), tokens[i + 1], cmd)
                    i += 1
            else:
                positional.append(tok)
            i += 1
        self._assign(cmd, positional, values)
        return Parsed(cmd, values, line)

    def _assign(self, cmd: Command, positional: list[str], values: dict[str, Any]) -> None:
        args = list(cmd.args)
        for index, arg in enumerate(args):
            if arg.kind is Kind.ARGS:
                values[arg.name] = parse_arg_tokens(positional[index:])
                return
            if index < len(positional):
                values[arg.name] = read_arg(arg, positional[index], cmd)
            elif arg.optional:
                values[arg.name] = None
            else:
                raise ParseError(f"{cmd.name} needs {arg.metavar}", _with_usage(None, cmd))
        if len(positional) > len(args):
            extra = positional[len(args)]
            most = len(args)
            raise ParseError(
                f"{cmd.name} takes at most {most} argument{'s' if most != 1 else ''}; {extra!r} is one too many",
                _with_usage(None, cmd),
            )


def _with_usage(hint: str | None, cmd: Command) -> str:
    usage = f"usage: {cmd.usage}"
    if cmd.examples:
        usage += f"; e.g. {cmd.examples[0]}"
    return f"{hint}; {usage}" if hint else usage


def read_arg(arg: Arg, text: str, cmd: Command) -> Any:
    """One token, read as ``arg.kind`` says."""
    kind = arg.kind
    if kind is Kind.REF:
        return parse_ref(text)
    if kind is Kind.TARGET:
        return parse_ref(text, allow_namespace=True)
    if kind in (Kind.NAMESPACE, Kind.METHOD, Kind.COMMAND):
        if text[:1] in "'\"":
            return parse_word(text)
        return text
    if kind in (Kind.KEY, Kind.PREFIX, Kind.TEXT):
        return parse_word(text)
    if kind is Kind.VALUE:
        return parse_value(text)
    if kind is Kind.SECONDS:
        return parse_number(text, arg.name, minimum=0)
    if kind is Kind.RATE:
        value = parse_number(text, arg.name, minimum=0)
        if value <= 0:
            raise ParseError(f"{arg.name} must be more than 0 a second, got {text!r}", "e.g. --rate 20")
        return value
    if kind is Kind.COUNT:
        return parse_number(text, arg.name, integer=True, minimum=1)
    if kind is Kind.WHEN:
        return text
    if kind is Kind.WORD:
        if text not in arg.choices:
            hint = did_you_mean(text, arg.choices) or f"choose one of: {', '.join(arg.choices)}"
            raise ParseError(f"{cmd.name}: {text!r} is not one of {', '.join(arg.choices)}", _with_usage(hint, cmd))
        return text
    raise AssertionError(kind)  # pragma: no cover - every Kind is handled above


__all__ = ["Arg", "Command", "Kind", "Option", "Parsed", "Ref", "Registry", "read_arg"]
