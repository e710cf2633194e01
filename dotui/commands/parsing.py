"""Reading a command line: tokens, values, object references.

Values are Python or JSON literals read with ``ast.parse`` and a walk that
accepts only literal nodes: nothing a user types is ever evaluated.

Every line is input (a script, a pipe, a pasted line), so its size is bounded
before anything reads it: ``MAX_LINE`` characters a line, ``MAX_LITERAL_ITEMS``
items a value (Python's parser holds about 1 KB per item), nested at most
``values.MAX_DEPTH`` deep, the bound of stored values. Past any of them, or
past what Python's parser follows, the line is a ParseError saying which bound
(docs/commands.md, docs/trust.md).
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, overload

from ..engine.values import MAX_DEPTH

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEX = re.compile(r"[0-9a-fA-F]+")
# An unquoted object name: anything but whitespace, brackets and quotes.
_NAME_CHARS = r"[^\s()\[\]{}'\"]"
_CALL_FORM = re.compile(
    r"(?P<ns>[A-Za-z_]\w*)/(?P<name>" + _NAME_CHARS + r"+|'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
    r"\.(?P<method>[A-Za-z_]\w*)\s*(?P<args>\(.*\))?\s*",
    re.DOTALL,
)
_OPENERS = {"(": ")", "[": "]", "{": "}"}
MAX_LINE = 1 << 20  # characters of a command line (and bytes of a script's line)
MAX_LITERAL_ITEMS = 65_536  # items of a value (or an argument list): room for any value storage takes
# A string literal (skipped whole), or one of the characters that nest or separate items.
_STRUCTURE = re.compile(r"'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"|[\[\](){}:,]")
_JSON_NAMES = {"true": True, "false": False, "null": None}


class ParseError(ValueError):
    """A command line could not be read. ``hint`` says what to type instead."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


# ---------------------------------------------------------------- suggestions
def closest(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The candidate nearest to ``word`` (difflib), or None if nothing is near."""
    pool = list(dict.fromkeys(candidates))
    if not pool:
        return None
    matches = difflib.get_close_matches(word, pool, n=1, cutoff=cutoff)
    if matches:
        return matches[0]
    lowered = {c.lower(): c for c in pool}
    matches = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=cutoff)
    return lowered[matches[0]] if matches else None


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    best = closest(word, candidates)
    return f"did you mean {best!r}?" if best is not None else None


# ---------------------------------------------------------------- tokens
@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Tokens:
    """The tokens of a line; ``comment`` is where a ``#`` comment starts (or None).

    ``open`` is true when the line ends inside a quote or a bracket (only
    possible with ``strict=False``; the completer reads half-typed lines).
    """

    items: list[Token]
    comment: int | None
    open: bool = False


def check_text(text: str) -> None:
    """ParseError if ``text`` is longer than MAX_LINE, or holds a NUL or a lone surrogate (what invalid
    UTF-8 bytes decode to): not a line of text at all. O(length)."""
    if len(text) > MAX_LINE:
        raise ParseError(
            f"the line is {len(text):,} characters long, more than the {MAX_LINE:,} a command line may have",
            "split the value over several commands (put one key each)",
        )
    nul = text.find("\0")
    if nul >= 0:
        raise ParseError(
            f"the line holds a NUL character at column {nul + 1}", "write it as an escape inside quotes: '\\x00'"
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ParseError(
            f"the line is not valid text: column {exc.start + 1} holds {text[exc.start]!r}, a lone surrogate "
            "(invalid UTF-8 in the input decodes to one)",
            "retype that part, or write the character as an escape inside quotes, e.g. '\\u00e9'",
        ) from None


def tokenize(line: str, strict: bool = True) -> Tokens:
    """Split at whitespace outside quotes and brackets; a token starting with ``#`` starts a comment."""
    check_text(line)
    items: list[Token] = []
    i, n = 0, len(line)
    while i < n:
        if line[i].isspace():
            i += 1
            continue
        if line[i] == "#":
            return Tokens(items, i)
        start = i
        stack: list[str] = []
        quote: str | None = None
        while i < n:
            c = line[i]
            if quote is not None:
                if c == "\\":
                    i += 2
                    continue
                if c == quote:
                    quote = None
            elif c in "'\"":
                quote = c
            elif c in _OPENERS:
                stack.append(_OPENERS[c])
            elif c in ")]}":
                if stack and stack[-1] == c:
                    stack.pop()
                elif strict:
                    raise ParseError(
                        f"unexpected {c!r} at column {i + 1} of {line!r}",
                        "check that every bracket is opened before it is closed",
                    )
            elif c.isspace() and not stack:
                break
            i += 1
        if quote is not None or stack:
            if strict:
                what = f"a {quote} quote" if quote is not None else f"{stack[-1]!r}"
                raise ParseError(
                    f"{line[start:].strip()!r} is missing {what} to close it", "close every quote and bracket"
                )
            items.append(Token(line[start:], start, n))
            return Tokens(items, None, open=True)
        items.append(Token(line[start:i], start, i))
    return Tokens(items, None)


def strip_comment(line: str) -> str:
    """The line without its ``#`` comment and surrounding whitespace."""
    toks = tokenize(line)
    text = line if toks.comment is None else line[: toks.comment]
    return text.strip()


# ---------------------------------------------------------------- values
def parse_value(text: str) -> Any:
    """A JSON-compatible value from a Python or JSON literal (``true``/``null`` work too)."""
    source = text.strip()
    check_text(source)
    if not source:
        raise ParseError("expected a value, got nothing", "give a literal: 5, 'text', [1, 2], {'k': 1}, true, null")
    check_structure(source, "the value")
    try:
        node = _parse(source).body
    except SyntaxError as exc:
        raise ParseError(f"cannot read {_shown(source)} as a value ({exc.msg})", _value_hint(source)) from None
    return literal(node, source)


def _shown(source: str, width: int = 200) -> str:
    return repr(source) if len(source) <= width else repr(source[:width]) + f"… ({len(source):,} characters)"


def check_structure(source: str, what: str, outer: int = 0) -> None:
    """ParseError if ``source`` nests brackets more than MAX_DEPTH deep (``outer`` of them are not the
    value's: an argument list's parentheses) or holds more than MAX_LITERAL_ITEMS items; checked before
    Python's parser sees it, which would take ~1 KB an item and fail on deep nesting. O(length)."""
    depth = items = 0
    for m in _STRUCTURE.finditer(source):
        c = m.group()
        if c in "([{":
            depth += 1
            if depth - outer > MAX_DEPTH:
                raise ParseError(
                    f"{what} nests lists and dicts more than {MAX_DEPTH} deep (at column {m.start() + 1})",
                    f"a value may nest at most {MAX_DEPTH} deep, as a stored value may: flatten it",
                )
        elif c in ")]}":
            depth -= 1
        elif c in ",:":
            items += 1
            if items >= MAX_LITERAL_ITEMS:
                raise ParseError(
                    f"{what} holds more than {MAX_LITERAL_ITEMS:,} items",
                    "split it over several commands (put one key each)",
                )


def _parse(source: str) -> ast.Expression:
    """``ast.parse`` in eval mode; what Python's parser cannot follow (a chain of 100,000 operators
    runs it out of stack: RecursionError or MemoryError; a NUL: ValueError) is a SyntaxError."""
    try:
        return ast.parse(source, mode="eval")
    except (RecursionError, MemoryError):
        raise SyntaxError("too deeply nested for Python's parser") from None
    except ValueError as exc:
        raise SyntaxError(str(exc)) from None


def _value_hint(source: str) -> str:
    if _IDENT.fullmatch(source) or re.fullmatch(r"[\w.\-]+", source):
        return f"text needs quotes: {source!r}"
    return "give a Python or JSON literal: 5, 'text', [1, 2], {'k': 1}, true, null"


def literal(node: ast.AST, source: str) -> Any:
    """Convert a literal node to a value; anything that is not a literal is refused."""
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, (str, int, float, bool)) or value is None:
            return value
        raise ParseError(
            f"{ast.get_source_segment(source, node) or value!r} is not a JSON-compatible value",
            "use numbers, strings, true/false/null, lists and dicts",
        )
    if isinstance(node, (ast.List, ast.Tuple)):
        return [literal(e, source) for e in node.elts]
    if isinstance(node, ast.Dict):
        out = {}
        for k, v in zip(node.keys, node.values, strict=False):
            if k is None:
                raise ParseError("'**' is not allowed inside a value", "write the dict's items out")
            key = literal(k, source)
            if not isinstance(key, str):
                raise ParseError(f"dict key {key!r} is not a string; JSON keys are strings", f"quote it: {str(key)!r}")
            out[key] = literal(v, source)
        return out
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        negative = False
        operand: ast.AST = node
        while isinstance(operand, ast.UnaryOp) and isinstance(operand.op, (ast.USub, ast.UAdd)):
            negative ^= isinstance(operand.op, ast.USub)  # a loop, not a recursion: --…--1 may be long
            operand = operand.operand
        inner = literal(operand, source)
        if isinstance(inner, (int, float)) and not isinstance(inner, bool):
            return -inner if negative else inner
    if isinstance(node, ast.Name):
        if node.id in _JSON_NAMES:
            return _JSON_NAMES[node.id]
        raise ParseError(f"{node.id!r} is not a value", f"text needs quotes: {node.id!r}")
    if isinstance(node, ast.Set):
        raise ParseError("a set is not a JSON value", "use a list: [1, 2]")
    segment = ast.get_source_segment(source, node) or source
    raise ParseError(
        f"{segment!r} is not a literal value; expressions are never evaluated",
        "give the value itself: 5, 'text', [1, 2], {'k': 1}, true, null",
    )


def parse_call_args(text: str) -> tuple[list, dict]:
    """``(ARGS)`` of ``REF.METHOD(ARGS)``: literal positional and ``key=literal`` keyword arguments."""
    check_text(text)
    check_structure(text, "the arguments", outer=1)
    source = "f" + text
    try:
        node = _parse(source).body
    except SyntaxError as exc:
        raise ParseError(
            f"cannot read the arguments {_shown(text)} ({exc.msg})",
            "arguments are literals, keywords as key=literal: (5, by=2)",
        ) from None
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "f"):
        raise ParseError(f"cannot read the arguments {text!r}", "write one argument list: (5, 'x', by=2)")
    args = []
    for a in node.args:
        if isinstance(a, ast.Starred):
            raise ParseError("'*' is not allowed in arguments", "write the arguments out")
        args.append(literal(a, source))
    kwargs = {}
    for kw in node.keywords:
        if kw.arg is None:
            raise ParseError("'**' is not allowed in arguments", "write the keyword arguments out: key=value")
        kwargs[kw.arg] = literal(kw.value, source)
    return args, kwargs


_KEYWORD = re.compile(r"([A-Za-z_]\w*)=(?!=)(.*)", re.DOTALL)


def parse_arg_tokens(tokens: Iterable[str]) -> tuple[list, dict]:
    """Arguments of ``call REF METHOD ARG ...``: each a literal, or ``key=literal``."""
    args: list = []
    kwargs: dict = {}
    for text in tokens:
        m = _KEYWORD.fullmatch(text)
        if m:
            kwargs[m.group(1)] = parse_value(m.group(2))
        else:
            if kwargs:
                raise ParseError(
                    f"positional argument {text!r} follows a keyword argument", "put positional arguments first"
                )
            args.append(parse_value(text))
    return args, kwargs


def parse_word(text: str) -> str:
    """A key or prefix: a quoted string literal, or the text as typed."""
    if text[:1] in "'\"":
        value = parse_value(text)
        if not isinstance(value, str):
            raise ParseError(f"{text!r} is not a string")
        return value
    return text


def parse_number(text: str, what: str, *, integer: bool = False, minimum: float | None = None) -> float | int:
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise ParseError(
            f"{what} must be {kind}, got {text!r}", f"for example: {what} 5" if not integer else None
        ) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ParseError(f"{what} must be a finite number, got {text!r}")
    if minimum is not None and value < minimum:
        raise ParseError(f"{what} must be at least {minimum:g}, got {text!r}")
    return value


# ---------------------------------------------------------------- references
@dataclass(frozen=True)
class Ref:
    """``Namespace/name`` or ``Namespace/#hexprefix``; ``ref`` is what the facade takes."""

    namespace: str
    ref: str

    @property
    def by_id(self) -> bool:
        return self.ref.startswith("#")

    def __str__(self) -> str:
        return f"{self.namespace}/{format_name(self.ref)}"


def format_name(name: str) -> str:
    """A name as typed in a reference: quoted when it would not read back as itself."""
    if name.startswith("#") and _HEX.fullmatch(name[1:] or "x"):
        return name
    if name and re.fullmatch(_NAME_CHARS + "+", name) and not name.startswith("#") and "." not in name:
        return name
    return repr(name)


def format_ref(namespace: str, name: str | None, hex_id: str, digits: int = 12) -> str:
    """How the front ends show an object: its name, or ``#`` and the start of its id."""
    if name is None or name.startswith("#"):  # a name starting with # is not addressable by name
        return f"{namespace}/#{hex_id[:digits]}"
    return f"{namespace}/{format_name(name)}"


@overload
def parse_ref(text: str, *, allow_namespace: Literal[False] = False) -> Ref: ...
@overload
def parse_ref(text: str, *, allow_namespace: bool) -> Ref | str: ...
def parse_ref(text: str, *, allow_namespace: bool = False) -> Ref | str:
    """A ``Ref`` from ``Namespace/name``, ``Namespace/#hex`` or ``Namespace/'quoted name'``.

    With ``allow_namespace`` a bare ``Namespace`` is returned as a str.
    """
    ns, slash, rest = text.partition("/")
    if not slash:
        if allow_namespace and _IDENT.fullmatch(text):
            return text
        raise ParseError(
            f"{text!r} is not an object reference",
            "write Namespace/name (e.g. Counter/alice) or Namespace/#hex (e.g. Counter/#3f2a)",
        )
    if not _IDENT.fullmatch(ns):
        raise ParseError(
            f"{ns!r} in {text!r} is not a namespace name", "a namespace is a class name, e.g. Counter/alice"
        )
    if not rest:
        raise ParseError(f"{text!r} names no object", f"add a name or an id: {ns}/alice or {ns}/#3f2a")
    if rest[0] in "'\"":
        name = parse_value(rest)
        if not isinstance(name, str):
            raise ParseError(f"the object name in {text!r} is not a string")
        if name.startswith("#"):
            # The facade reads a reference starting with # as an id prefix.
            raise ParseError(
                f"object name {name!r} starts with '#', which marks an id",
                f"address it by its id: ls {ns} shows it, then {ns}/#HEX",
            )
        return Ref(ns, name)
    if rest.startswith("#"):
        digits = rest[1:]
        if not _HEX.fullmatch(digits):
            raise ParseError(
                f"{rest!r} is not an id prefix: after '#' come hex digits", f"e.g. {ns}/#3f2a; ls {ns} shows the ids"
            )
        return Ref(ns, "#" + digits.lower())
    if re.search(r"\s", rest):
        raise ParseError(f"object name {rest!r} has spaces", f"quote it: {ns}/{rest!r}")
    return Ref(ns, rest)


@dataclass(frozen=True)
class CallForm:
    ref: Ref
    method: str
    args: list
    kwargs: dict


def parse_call_form(text: str) -> CallForm | None:
    """``REF.METHOD(ARGS)`` (or ``REF.METHOD`` for no arguments); None if ``text`` is not in that form."""
    m = _CALL_FORM.fullmatch(text)
    if m is None:
        return None
    ref = parse_ref(f"{m.group('ns')}/{m.group('name')}")
    assert isinstance(ref, Ref)
    args, kwargs = parse_call_args(m.group("args")) if m.group("args") else ([], {})
    return CallForm(ref, m.group("method"), args, kwargs)
