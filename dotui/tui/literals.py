"""Reading what the user typed as Python literals (``ast.literal_eval``, never ``eval``)."""

from __future__ import annotations

import ast
from typing import Any


class LiteralError(ValueError):
    """What was typed is not a literal; the message says what to type instead."""


def _literal(node: ast.AST, source: str, what: str) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        text = ast.get_source_segment(source, node) or "?"
        hint = f"; to pass the text, quote it: {text!r}" if isinstance(node, ast.Name) else ""
        raise LiteralError(f"{what}{text} is not a literal (numbers, 'strings', lists, dicts, True, None){hint}") from None


def parse_arguments(text: str) -> tuple[list[Any], dict[str, Any]]:
    """``5, 'x', by=2`` → ``([5, 'x'], {'by': 2})``; raises LiteralError saying what is wrong."""
    text = text.strip()
    if not text:
        return [], {}
    source = f"f({text})"
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise LiteralError(
            f"cannot read the arguments ({exc.msg}); write them as in Python: 5, 'text', key=value"
        ) from None
    call = tree.body
    if not isinstance(call, ast.Call) or (call.func.end_col_offset or 0) != 1:
        raise LiteralError("write the arguments as in Python: 5, 'text', key=value")
    args = []
    for node in call.args:
        if isinstance(node, ast.Starred):
            raise LiteralError("*args are not allowed here: write each argument")
        args.append(_literal(node, source, "argument "))
    kwargs = {}
    for kw in call.keywords:
        if kw.arg is None:
            raise LiteralError("**kwargs are not allowed here: write each key=value")
        kwargs[kw.arg] = _literal(kw.value, source, f"{kw.arg}=")
    return args, kwargs


def parse_value(text: str) -> Any:
    """One literal (a storage value): ``{'a': [1, 2]}``, ``'text'``, ``3.5``, ``None``."""
    text = text.strip()
    if not text:
        raise LiteralError("type a value: a number, 'text', [a list], {'a': 'dict'}, True, False or None")
    source = text
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise LiteralError(f"cannot read the value: {exc.msg}; quote text: 'like this'") from None
    return _literal(tree.body, source, "value ")
