"""Checking arguments against a method's signature as the engine describes it (a string).

The front ends see a method's signature as text (``(by: int = 1) -> int``);
``bind_check`` reads its parameters (names, kinds, which have defaults) and
tells whether ``args``/``kwargs`` fit, the way calling the method would, before
anything is sent. Annotations are not evaluated: the plain ones (``int``,
``float``, ``str``, ``bool``, ``list``, ``dict``, ``None``, their ``X | Y`` and
``Optional[X]``, ``list[int]`` by its outer type) are read as text and an
argument of another type is named; any other annotation accepts anything.
"""

from __future__ import annotations

import ast
import inspect
from typing import Any

P = inspect.Parameter
_cache: dict[str, inspect.Signature | None] = {}

# what a value of each plain annotation may be, as the command language's literals make them (JSON's, Python's)
_PLAIN: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "complex": (int, float, complex),
    "str": (str,),
    "bool": (bool,),
    "bytes": (bytes,),
    "list": (list,),
    "tuple": (tuple, list),
    "dict": (dict,),
    "set": (set, list),
    "None": (type(None),),
    "List": (list,),
    "Dict": (dict,),
    "Tuple": (tuple, list),
}


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
    params = []
    positional = a.posonlyargs + a.args
    first_default = len(positional) - len(a.defaults)
    for i, arg in enumerate(positional):
        kind = P.POSITIONAL_ONLY if i < len(a.posonlyargs) else P.POSITIONAL_OR_KEYWORD
        params.append(
            P(arg.arg, kind, default=None if i >= first_default else P.empty, annotation=_accepts(arg.annotation))
        )
    if a.vararg:
        params.append(P(a.vararg.arg, P.VAR_POSITIONAL))
    for arg, default in zip(a.kwonlyargs, a.kw_defaults, strict=False):
        params.append(
            P(
                arg.arg,
                P.KEYWORD_ONLY,
                default=P.empty if default is None else None,
                annotation=_accepts(arg.annotation),
            )
        )
    if a.kwarg:
        params.append(P(a.kwarg.arg, P.VAR_KEYWORD))
    return inspect.Signature(params)


def bind_check(signature: str, args: list[Any], kwargs: dict[str, Any]) -> str | None:
    """None if the arguments fit the signature; else what is wrong, as the call would say it."""
    sig = signature_of(signature)
    if sig is None:
        return None
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError as exc:
        return f"{exc}: the signature is {signature.split(' -> ')[0]}"
    for name, value in bound.arguments.items():
        param = sig.parameters[name]
        accepts = param.annotation
        if accepts is P.empty or param.kind in (P.VAR_POSITIONAL, P.VAR_KEYWORD):
            continue
        if not isinstance(value, accepts[0]):  # as Python has it: True is an int
            kind = type(value).__name__
            return f"{name} expects {accepts[1]}; {value!r:.40} is {'an' if kind[0] in 'aeiou' else 'a'} {kind}"
    return None


def _accepts(node: ast.expr | None) -> Any:
    """The types a plain annotation admits and how it reads (``(int, NoneType), 'int | None'``), as a
    Parameter's annotation; ``Parameter.empty`` for any other."""
    if node is None:
        return P.empty
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # a quoted annotation, "int"
        try:
            node = ast.parse(node.value, mode="eval").body
        except SyntaxError:
            return P.empty
    types = _types(node)
    return (types, ast.unparse(node)) if types else P.empty


def _types(node: ast.expr) -> tuple[type, ...] | None:
    if isinstance(node, ast.Constant) and node.value is None:
        return (type(None),)
    if isinstance(node, ast.Name):
        return _PLAIN.get(node.id)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "typing":
        return _PLAIN.get(node.attr)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        left, right = _types(node.left), _types(node.right)
        return left + right if left and right else None
    if isinstance(node, ast.Subscript):
        outer = node.value.attr if isinstance(node.value, ast.Attribute) else getattr(node.value, "id", None)
        if outer == "Optional":
            inner = _types(node.slice)
            return inner + (type(None),) if inner else None
        if outer == "Union" and isinstance(node.slice, ast.Tuple):
            out: tuple[type, ...] = ()
            for element in node.slice.elts:
                part = _types(element)
                if part is None:
                    return None
                out += part
            return out
        return _types(node.value)  # list[int]: a list
    return None
