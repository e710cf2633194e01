"""Loading a Cloudflare Python Workers project: its wrangler file, its main module, its classes.

``load_project(wrangler_path, timeout)`` is what the engine's loader runs for a workspace that is a
wrangler file (``dotui/workspace.py``): it reads the file (``wrangler.py``), imports ``main`` as the
objects folder's files are imported (``loader.import_file``: checked source, its own thread, a time
bound), and returns one namespace per class the migrations create, under its class name, with the
backend they give it. The project's ``Default(WorkerEntrypoint)``, if it has one, is kept for the
gateway (``worker_of``). For the project's imports, ``workers``, ``js`` and ``pyodide.ffi`` resolve
to dotui's modules, and the main module's folder is searched last (after the standard library and
installed packages), as sibling modules are on Cloudflare. O(size of the project's sources).
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
import types
from dataclasses import dataclass
from typing import Any

from ..engine.loader import LoadError, NamespaceInfo, import_file, namespace_of
from ..engine.object.api import DurableObject as NativeDurableObject
from .entrypoints import WorkerEntrypoint
from .wrangler import WranglerConfig, WranglerError, read_wrangler

_generation = itertools.count(1)
_lock = threading.Lock()


@dataclass(frozen=True)
class Project:
    config: WranglerConfig
    worker: type | None  # the Default(WorkerEntrypoint) class, if main defines one


_projects: dict[str, Project] = {}  # wrangler file (absolute) -> the project as last loaded


def worker_of(objects: str) -> Project | None:
    """The project last loaded from the wrangler file ``objects`` (an engine's ``objects_dir``), or None."""
    return _projects.get(os.path.abspath(objects))


def install_modules() -> None:
    """Make ``import workers``, ``import js`` and ``from pyodide.ffi import to_js`` reach dotui's modules."""
    from .. import workers
    from . import js, pyodide_ffi

    sys.modules["workers"] = workers
    sys.modules.setdefault("js", js)
    if "pyodide" not in sys.modules:
        pkg = types.ModuleType("pyodide", "dotui's stand-in for Pyodide (dotui/workers/pyodide_ffi.py)")
        pkg.__path__ = []
        pkg.ffi = pyodide_ffi  # type: ignore[attr-defined]
        sys.modules["pyodide"] = pkg
        sys.modules["pyodide.ffi"] = pyodide_ffi


def _forget_project_modules(folder: str) -> None:
    """Sibling modules imported by the last load go, so a reload imports their new text."""
    prefix = folder + os.sep
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if isinstance(file, str) and os.path.abspath(file).startswith(prefix):
            del sys.modules[name]


def load_project(path: str, timeout: float) -> tuple[dict[str, NamespaceInfo], list[LoadError]]:
    """The namespaces of the project whose wrangler file is ``path``; a ``LoadError`` per problem."""
    path = os.path.abspath(path)
    try:
        config = read_wrangler(path)
    except WranglerError as exc:
        return {}, [LoadError(path, None, str(exc).removeprefix(f"{path}: "))]
    install_modules()
    src = os.path.dirname(config.main)
    with _lock:
        _forget_project_modules(config.folder)
        if src not in sys.path:
            sys.path.append(src)
    modname = f"dotui_workers_{next(_generation)}.{os.path.basename(config.main)[:-3]}"
    module = import_file(config.main, modname, timeout)
    if isinstance(module, LoadError):
        return {}, [module]
    namespaces: dict[str, NamespaceInfo] = {}
    errors: list[LoadError] = []
    for name, backend in config.backends.items():
        cls = getattr(module, name, None)
        where = f"the migrations of {os.path.basename(path)} create class {name}"
        if cls is None:
            errors.append(
                LoadError(
                    config.main,
                    None,
                    f"{where}, which this module does not define: define "
                    f"class {name}(DurableObject) here, or fix the name",
                )
            )
            continue
        if not (isinstance(cls, type) and issubclass(cls, NativeDurableObject)):
            errors.append(
                LoadError(
                    config.main,
                    None,
                    f"{where}, but {name} is not a DurableObject subclass: "
                    "write class {name}(DurableObject), from workers",
                )
            )
            continue
        cls.__workers_config__ = config  # type: ignore[attr-defined]
        if "storage_backend" not in cls.__dict__:
            cls.storage_backend = backend
        info = namespace_of(name, cls, config.main, module)
        if isinstance(info, LoadError):
            errors.append(info)
        else:
            namespaces[name] = info
    worker = getattr(module, "Default", None)
    if worker is not None and not (isinstance(worker, type) and issubclass(worker, WorkerEntrypoint)):
        errors.append(
            LoadError(
                config.main,
                None,
                "Default is not a WorkerEntrypoint subclass: write class Default(WorkerEntrypoint), from workers",
            )
        )
        worker = None
    _projects[path] = Project(config, worker)
    return namespaces, errors


def moves_of(objects: str) -> dict[str, str | None]:
    """The classes whose objects the last loaded project's migrations move or delete (``WranglerConfig.moves``)."""
    project = worker_of(objects)
    return project.config.moves() if project is not None else {}


def is_project(objects: str) -> bool:
    from .wrangler import is_wrangler_file

    return os.path.isfile(objects) and is_wrangler_file(objects)


def describe(objects: str) -> dict[str, Any] | None:
    """What the front ends say of a project: its file, its Worker, its bindings."""
    project = worker_of(objects)
    if project is None:
        return None
    return {
        "wrangler": project.config.path,
        "worker": project.worker.__name__ if project.worker else None,
        "bindings": dict(project.config.bindings),
    }
