"""Find the DurableObject classes of an objects folder."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import io
import itertools
import os
import re
import stat
import sys
import threading
import tokenize
import traceback
from dataclasses import dataclass, field
from typing import Any

from .object.api import DurableObject

_RESERVED = {
    "alarm",
    "fetch_internal",
    "websocket_message",
    "websocket_close",
    "websocket_error",
    # the same handlers under workerd's names (Python Workers classes: dotui/workers/)
    "webSocketMessage",
    "webSocketClose",
    "webSocketError",
}


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
    backend: str = "kv"  # storage_backend: "kv" (TinyDB) or "sqlite" (docs/sqlite.md)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "file": self.file,
            "doc": self.doc,
            "mode": self.mode,
            "alarm": self.has_alarm,
            "teaches": self.teaches,
            "backend": self.backend,
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


# ---------------------------------------------------------------- reading and importing one file
MAX_SOURCE_BYTES = 1 << 20  # a class file larger than 1 MiB is refused (docs/trust.md, "Objects-folder sources")
IMPORT_TIMEOUT = 30.0  # seconds one file's import may take (Engine(import_timeout=...))

_generation = itertools.count(1)
_still_running: dict[tuple[str, str], threading.Thread] = {}  # (path, sha256) -> an import past its bound
_still_running_lock = threading.Lock()


class SourceError(Exception):
    """An objects-folder file that is not Python source text the loader takes; ``line`` where, if known."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def read_source(path: str, limit: int = MAX_SOURCE_BYTES) -> str:
    """The text of one objects-folder file, checked as outside input; ``SourceError`` says what is wrong.

    It must be a regular file (a link to one is followed; a FIFO, a device or a folder is refused
    without being read, so none can block), at most ``limit`` bytes, free of NUL bytes, and text in
    UTF-8 or the encoding its first two lines declare (PEP 263). O(size), at most ``limit``.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise SourceError(f"cannot open it: {exc.strerror or exc}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SourceError(
                "not a regular file (a folder, a FIFO or a device); an objects file is Python "
                "source: move it out of the objects folder or rename it"
            )
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        data = b"".join(chunks)
    except OSError as exc:
        raise SourceError(f"cannot read it: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise SourceError(
            f"larger than {limit:,} bytes: an objects file is a class's source; move data it "
            "reads into a file of its own, or split the file"
        )
    nul = data.find(b"\0")
    if nul >= 0:
        raise SourceError(
            f"holds a NUL byte (at byte {nul:,}): it is not Python source text "
            "(a binary file?); move it out of the objects folder",
            _line_of(data, nul),
        )
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        raise SourceError(f"declares an encoding Python does not know: {exc}; declare utf-8 or none") from None
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        named = "UTF-8" if encoding in ("utf-8", "utf-8-sig") else encoding
        raise SourceError(
            f"not {named} text: byte 0x{data[exc.start]:02x} at byte {exc.start:,} cannot be "
            f"decoded; save the file as UTF-8",
            _line_of(data, exc.start),
        ) from None


class _Import:
    """One file's top level, run on a thread of its own so that the caller can stop waiting for it.

    A thread cannot be stopped: an import past its bound goes on running until its code ends
    (forever, for a ``while True``); its module is never registered and its classes never used.
    """

    def __init__(self, modname: str, path: str, source: str):
        self.modname, self.path, self.source = modname, path, source
        self.module: Any = None
        self.error: BaseException | None = None
        self.abandoned = False
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"dotui-import {os.path.basename(path)}", daemon=True)

    def _run(self) -> None:
        try:
            code = compile(self.source, self.path, "exec", dont_inherit=True)
            spec = importlib.util.spec_from_file_location(self.modname, self.path)
            assert spec is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[self.modname] = module
            exec(code, module.__dict__)  # the objects folder's own code, run as an import would
            self.module = module
        except BaseException as exc:  # noqa: BLE001 - a user's file may raise anything: it is its load error
            self.error = exc
        finally:
            if self.error is not None or self.abandoned:
                sys.modules.pop(self.modname, None)
            self.done.set()

    def run(self, timeout: float) -> Any:
        """The module, once its top level ended within ``timeout`` seconds; raises what it raised,
        or TimeoutError."""
        self.thread.start()
        if not self.done.wait(timeout):
            self.abandoned = True
            sys.modules.pop(self.modname, None)
            raise TimeoutError
        if self.error is not None:
            raise self.error
        return self.module


def _error_line(exc: BaseException, path: str) -> int | None:
    if isinstance(exc, SyntaxError) and exc.lineno:
        return exc.lineno
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if os.path.abspath(frame.filename) == os.path.abspath(path):
            line = frame.lineno
    return line


def import_file(path: str, modname: str, timeout: float) -> Any:
    """Import one file within ``timeout`` seconds; its module, or a ``LoadError``.

    A ``KeyboardInterrupt`` it raises goes on up (someone asked to stop); any other
    exception, ``SystemExit`` and every other ``BaseException`` included, is its load error.
    """
    try:
        source = read_source(path)
    except SourceError as exc:
        return LoadError(path, exc.line, str(exc))
    key = (path, hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest())
    with _still_running_lock:
        earlier = _still_running.get(key)
        if earlier is not None and earlier.is_alive():
            return LoadError(
                path,
                None,
                f"an earlier import of this same text is still running (it took longer "
                f"than {timeout:g} s and cannot be stopped): its top level must not "
                "block; fix the file, or restart to end that import",
            )
    job = _Import(modname, path, source)
    try:
        return job.run(timeout)
    except TimeoutError:
        with _still_running_lock:
            _still_running[key] = job.thread
        return LoadError(
            path,
            None,
            f"import took longer than {timeout:g} s: a file's top level must not block "
            "(move slow work into a method); that import goes on in a thread of its "
            "own, since a thread cannot be stopped, and its classes are not used",
        )
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - a user's file may raise anything
        text = str(exc.msg if isinstance(exc, SyntaxError) else exc)
        msg = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        if isinstance(exc, SystemExit):
            msg += " (a file's top level must not exit: the engine imports it)"
        return LoadError(path, _error_line(exc, path), msg)


def load_objects(folder: str, timeout: float = IMPORT_TIMEOUT) -> tuple[dict[str, NamespaceInfo], list[LoadError]]:
    """Import every top-level ``.py`` file of ``folder``; collect its DurableObject classes.

    A file that fails to import is reported (file, line, message) and skipped; the others
    still load. Each file's text is checked first (``read_source``), and its top level runs on
    a thread of its own for at most ``timeout`` seconds (``_Import``), so a file that blocks
    costs its own load error, not the caller's thread. Each call imports afresh (for ``reload``).
    Blocking: run it off the engine's loop (the engine does, in a thread).
    """
    if os.path.isfile(folder):
        from ..workers.wrangler import is_wrangler_file

        if is_wrangler_file(folder):  # a Cloudflare Python Workers project (docs/cloudflare.md)
            from ..workers.project import load_project

            return load_project(folder, timeout)
    generation = next(_generation)
    namespaces: dict[str, NamespaceInfo] = {}
    errors: list[LoadError] = []
    if not os.path.isdir(folder):
        errors.append(LoadError(folder, None, "objects folder not found; pass --objects DIR or create it"))
        return namespaces, errors
    for fname in sorted(os.listdir(folder)):
        if not fname.endswith(".py") or fname.startswith((".", "_")):
            continue
        path = os.path.join(folder, fname)
        modname = f"dotui_objects_{generation}.{fname[:-3]}"
        module = import_file(path, modname, timeout)
        if isinstance(module, LoadError):
            errors.append(module)
            continue
        for name, cls in vars(module).items():
            if not (inspect.isclass(cls) and issubclass(cls, DurableObject) and cls is not DurableObject):
                continue
            if cls.__module__ != modname:
                continue
            if name in namespaces:
                errors.append(
                    LoadError(
                        path,
                        None,
                        f"class {name} is also defined in {namespaces[name].file}; namespace names must be unique",
                    )
                )
                continue
            info = namespace_of(name, cls, path, module)
            if isinstance(info, LoadError):
                errors.append(info)
            else:
                namespaces[name] = info
    return namespaces, errors


def class_moves(objects_dir: str) -> dict[str, str | None]:
    """Old class -> the class its objects now belong to (None: deleted), from a wrangler project's
    migrations (docs/cloudflare.md, "Migrations"); an objects folder has none. O(migrations)."""
    from ..workers.wrangler import is_wrangler_file

    if not is_wrangler_file(objects_dir):
        return {}
    from ..workers.project import moves_of

    return moves_of(objects_dir)


def check_backends(
    namespaces: dict[str, NamespaceInfo], errors: list[LoadError], data_dir: str, objects_dir: str
) -> list[LoadError]:
    """Drop (and add a load error for) each class whose ``storage_backend`` is not the one its objects
    on disk have: a class cannot change backend once objects exist, as Cloudflare refuses that
    migration (docs/sqlite.md). O(1) a class (the first object file of its folder tells)."""
    from .durability.sqlfile import backend_of_folder

    out = list(errors)
    for name, info in list(namespaces.items()):
        found = backend_of_folder(os.path.join(data_dir, name))
        if found is not None and found != info.backend:
            out.append(
                LoadError(
                    info.file,
                    None,
                    (
                        f"class {name} in {objects_dir} declares storage_backend = {info.backend!r}, but its objects in "
                        f"{os.path.join(data_dir, name)} are {found!r}-backed: a class cannot change backend once "
                        f"objects exist; set storage_backend = {found!r} again, or give the new backend a new class name"
                    ),
                )
            )
            del namespaces[name]
    return out


def namespace_of(name: str, cls: type, path: str, module: Any) -> NamespaceInfo | LoadError:
    """The namespace of DurableObject class ``cls``, defined in ``path``; a ``LoadError`` if it cannot be one."""
    mode = getattr(cls, "concurrency", "input-gate")
    if mode not in ("input-gate", "serial"):
        return LoadError(path, None, f"{name}.concurrency is {mode!r}; use 'input-gate' or 'serial'")
    backend = getattr(cls, "storage_backend", "kv")
    if backend not in ("kv", "sqlite"):
        return LoadError(path, None, f"{name}.storage_backend is {backend!r}; use 'kv' or 'sqlite'")
    return NamespaceInfo(
        name=name,
        cls=cls,
        file=path,
        doc=inspect.cleandoc(vars(cls).get("__doc__") or ""),  # its own: not the base class's
        mode=mode,
        has_alarm=callable(getattr(cls, "alarm", None)),
        methods=callable_methods(cls),
        teaches=teaches_of(module),
        backend=backend,
    )
