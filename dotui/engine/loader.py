"""Find the DurableObject classes of an objects folder."""

from __future__ import annotations

import importlib.util
import inspect
import re
import os
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any

from .api import DurableObject

_RESERVED = {"alarm", "fetch_internal", "websocket_message", "websocket_close", "websocket_error"}


@dataclass
class MethodInfo:
    name: str
    signature: str
    doc: str
    is_async: bool


_TEACHES = re.compile(r"\bTeaches:?\s+(.*?)(?:\.(?:\s|$)|\n\n|$)", re.S)


def teaches_of(module: Any) -> str:
    """What a class file says it teaches: the sentence after "Teaches" in its module docstring, or ""."""
    match = _TEACHES.search(inspect.getdoc(module) or "")
    return " ".join(match.group(1).split()) if match else ""


@dataclass
class NamespaceInfo:
    name: str
    cls: type
    file: str
    doc: str
    mode: str
    has_alarm: bool
    methods: dict[str, MethodInfo] = field(default_factory=dict)
    teaches: str = ""

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "file": self.file,
            "doc": self.doc,
            "mode": self.mode,
            "alarm": self.has_alarm,
            "teaches": self.teaches,
            "methods": [
                {"name": m.name, "signature": m.signature, "doc": m.doc, "async": m.is_async}
                for m in self.methods.values()
            ],
        }


@dataclass
class LoadError:
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


def callable_methods(cls: type) -> dict[str, MethodInfo]:
    out = {}
    for name, fn in inspect.getmembers(cls, inspect.isfunction):
        if name.startswith("_") or name in _RESERVED:
            continue
        if getattr(DurableObject, name, None) is fn:
            continue
        try:
            sig = str(inspect.signature(fn)).replace("(self, ", "(", 1).replace("(self)", "()", 1)
        except (TypeError, ValueError):
            sig = "(...)"
        doc = inspect.getdoc(fn) or ""
        out[name] = MethodInfo(name, sig, doc, inspect.iscoroutinefunction(fn))
    return out


def _error_line(exc: BaseException, path: str) -> int | None:
    if isinstance(exc, SyntaxError) and exc.lineno:
        return exc.lineno
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if os.path.abspath(frame.filename) == os.path.abspath(path):
            line = frame.lineno
    return line


_generation = 0


def load_objects(folder: str) -> tuple[dict[str, NamespaceInfo], list[LoadError]]:
    """Import every top-level ``.py`` file of ``folder``; collect its DurableObject classes.

    A file that fails to import is reported (file, line, message) and skipped;
    the others still load. Each call imports afresh (for ``reload``).
    """
    global _generation
    _generation += 1
    namespaces: dict[str, NamespaceInfo] = {}
    errors: list[LoadError] = []
    if not os.path.isdir(folder):
        errors.append(LoadError(folder, None, "objects folder not found; pass --objects DIR or create it"))
        return namespaces, errors
    for fname in sorted(os.listdir(folder)):
        if not fname.endswith(".py") or fname.startswith((".", "_")):
            continue
        path = os.path.join(folder, fname)
        modname = f"dotui_objects_{_generation}.{fname[:-3]}"
        try:
            spec = importlib.util.spec_from_file_location(modname, path)
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            sys.modules[modname] = module
            spec.loader.exec_module(module)
        except BaseException as exc:  # noqa: BLE001 - a user's file may raise anything
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            sys.modules.pop(modname, None)
            msg = f"{type(exc).__name__}: {exc.msg if isinstance(exc, SyntaxError) else exc}"
            errors.append(LoadError(path, _error_line(exc, path), msg))
            continue
        for name, cls in vars(module).items():
            if not (inspect.isclass(cls) and issubclass(cls, DurableObject) and cls is not DurableObject):
                continue
            if cls.__module__ != modname:
                continue
            if name in namespaces:
                errors.append(LoadError(path, None, f"class {name} is also defined in {namespaces[name].file}; "
                                        "namespace names must be unique"))
                continue
            mode = getattr(cls, "concurrency", "input-gate")
            if mode not in ("input-gate", "serial"):
                errors.append(LoadError(path, None, f"{name}.concurrency is {mode!r}; use 'input-gate' or 'serial'"))
                continue
            namespaces[name] = NamespaceInfo(
                name=name,
                cls=cls,
                file=path,
                doc=inspect.getdoc(cls) or "",
                mode=mode,
                has_alarm=callable(getattr(cls, "alarm", None)),
                methods=callable_methods(cls),
                teaches=teaches_of(module),
            )
    return namespaces, errors
