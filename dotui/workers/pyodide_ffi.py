"""``pyodide.ffi`` for CPython: Python Workers code converts values for JavaScript with it; here there is
no JavaScript, so ``to_js`` returns its value (its ``dict_converter`` applied, as Pyodide does),
``create_proxy`` and ``create_once_callable`` their function, and ``JsProxy``/``JsException`` are
classes no value here is an instance of (``JsException`` may still be caught)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class JsProxy:
    pass


class JsException(Exception):
    pass


def to_js(value: Any, *, dict_converter: Callable[..., Any] | None = None, **_options: Any) -> Any:
    if dict_converter is not None and isinstance(value, dict):
        return dict_converter(value.items())
    return value


def create_proxy(fn: Any, **_options: Any) -> Any:
    return fn


def create_once_callable(fn: Any, **_options: Any) -> Any:
    return fn


def destroy_proxies(_proxies: Any) -> None:
    return None
