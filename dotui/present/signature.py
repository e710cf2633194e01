"""Checking arguments against a method's signature as the engine describes it (a string).

The front ends see a method's signature as text (``(by: int = 1) -> int``);
``bind_check`` reads its parameters (names, kinds, which have defaults) and
tells whether ``args``/``kwargs`` fit, the way calling the method would, before
anything is sent. Annotations are not evaluated.
"""

from __future__ import annotations

import ast
import inspect
from typing import Any

_cache: dict[str, inspect.Signature | None] = {}


def signature_of(text: str) -> inspect.Signature | None:
    """The parameters of ``text`` (``(a, b=1, *args, c, **kw) -> T``); None if it cannot be read."""
    if text in _cache:
        return _cache[text]
    sig = None
    try:
        fn = ast.parse(f"def f{text}: pass").body[0]
    except SyntaxError:
        fn = None
    if isinstance(fn, ast.FunctionDef):
        sig = _from_ast(fn.args)
    if len(_cache) >= 4096:  # signatures as a gateway describes them: any number of texts
        _cache.clear()
    _cache[text] = sig
    return sig


def _from_ast(a: ast.arguments) -> inspect.Signature:
    P = inspect.Parameter
    params = []
    positional = a.posonlyargs + a.args
    first_default = len(positional) - len(a.defaults)
    for i, arg in enumerate(positional):
        kind = P.POSITIONAL_ONLY if i < len(a.posonlyargs) else P.POSITIONAL_OR_KEYWORD
        params.append(P(arg.arg, kind, default=None if i >= first_default else P.empty))
    if a.vararg:
        params.append(P(a.vararg.arg, P.VAR_POSITIONAL))
    for arg, default in zip(a.kwonlyargs, a.kw_defaults, strict=False):
        params.append(P(arg.arg, P.KEYWORD_ONLY, default=P.empty if default is None else None))
    if a.kwarg:
        params.append(P(a.kwarg.arg, P.VAR_KEYWORD))
    return inspect.Signature(params)


def bind_check(signature: str, args: list[Any], kwargs: dict[str, Any]) -> str | None:
    """None if the arguments fit the signature; else what is wrong, as the call would say it."""
    sig = signature_of(signature)
    if sig is None:
        return None
    try:
        sig.bind(*args, **kwargs)
    except TypeError as exc:
        return f"{exc}: the signature is {signature.split(' -> ')[0]}"
    return None
