"""The wrangler file of a Cloudflare Python Workers project, read as outside input (docs/trust.md).

``read_wrangler(path)`` reads ``wrangler.toml``, ``wrangler.jsonc`` or ``wrangler.json`` and returns
a ``WranglerConfig``: the module ``main`` names, the Durable Object bindings (binding name -> class),
each class's storage backend from ``migrations`` (``new_classes`` -> "kv", ``new_sqlite_classes`` ->
"sqlite", ``renamed_classes`` carrying it over, ``deleted_classes`` ending it) and ``vars``. Anything
it cannot use is a ``WranglerError`` naming the file, the key and what dotui supports; keys that do not
change what runs here (``name``, ``compatibility_date``, ``observability``, ...) are ignored, and the
bindings of other Cloudflare products are remembered so that ``env.NAME`` can say why it is missing.

Bounds: a regular file of at most ``MAX_BYTES``, UTF-8, no NUL; the decoders' own recursion limits
(a RecursionError is this file's error, never a traceback). O(size of the file).
"""

from __future__ import annotations

import json
import os
import re
import stat
import tomllib
from dataclasses import dataclass, field
from typing import Any

MAX_BYTES = 1 << 20  # a wrangler file is configuration: 1 MiB is far past any real one
WRANGLER_FILES = ("wrangler.toml", "wrangler.jsonc", "wrangler.json")  # the order wrangler prefers them in
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Binding kinds of other Cloudflare products: env.NAME of one says dotui does not provide it.
OTHER_BINDINGS = (
    "kv_namespaces",
    "r2_buckets",
    "d1_databases",
    "queues",
    "services",
    "vectorize",
    "ai",
    "analytics_engine_datasets",
    "hyperdrive",
    "workflows",
    "browser",
    "images",
    "send_email",
    "mtls_certificates",
    "dispatch_namespaces",
    "version_metadata",
    "ratelimits",
    "worker_loaders",
)
SUPPORTED = (
    "main, durable_objects.bindings (name, class_name), migrations (tag, new_classes, new_sqlite_classes, "
    "renamed_classes, deleted_classes) and vars"
)


class WranglerError(ValueError):
    """The wrangler file cannot be used; the message names the file and the key."""

    def __init__(self, path: str, key: str, message: str):
        where = f"{path}: {key}" if key else path
        super().__init__(f"{where}: {message}")
        self.path, self.key = path, key


@dataclass
class WranglerConfig:
    path: str  # the wrangler file
    main: str  # absolute path of the main module
    bindings: dict[str, str] = field(default_factory=dict)  # binding name -> class name, in file order
    backends: dict[str, str] = field(default_factory=dict)  # class -> "kv" | "sqlite", every live class
    renamed: dict[str, str] = field(default_factory=dict)  # old class -> new class
    deleted: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    other_bindings: dict[str, str] = field(default_factory=dict)  # binding name -> the key declaring it

    @property
    def folder(self) -> str:
        return os.path.dirname(self.path)

    def moves(self) -> dict[str, str | None]:
        """Each class no longer live whose objects the migrations give to another: old -> the live class
        its renames end at, or None when they end deleted (``deleted_classes``). A class created again
        after its rename keeps the objects on disk under its name. O(migrations)."""
        out: dict[str, str | None] = {}
        for old in [*self.renamed, *self.deleted]:
            if old in self.backends or old in out:
                continue
            cur, seen = old, {old}
            while cur not in self.backends and cur in self.renamed and self.renamed[cur] not in seen:
                cur = self.renamed[cur]
                seen.add(cur)
            if cur in self.backends:
                out[old] = cur
            elif cur in self.deleted:
                out[old] = None
        return out


def is_wrangler_file(path: str) -> bool:
    return os.path.basename(path) in WRANGLER_FILES


def read_text(path: str, limit: int = MAX_BYTES) -> str:
    """The file's text: a regular file (never blocks on a FIFO), at most ``limit`` bytes, UTF-8, no NUL."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise WranglerError(path, "", f"cannot open it: {exc.strerror or exc}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise WranglerError(path, "", "not a regular file: a wrangler file is text configuration")
        data = b""
        while len(data) <= limit:
            chunk = os.read(fd, limit + 1 - len(data))
            if not chunk:
                break
            data += chunk
    except OSError as exc:
        raise WranglerError(path, "", f"cannot read it: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise WranglerError(path, "", f"larger than {limit:,} bytes: a wrangler file is configuration")
    if b"\0" in data:
        raise WranglerError(path, "", f"holds a NUL byte (at byte {data.index(0):,}): it is not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise WranglerError(
            path,
            "",
            f"not UTF-8 text: byte 0x{data[exc.start]:02x} at byte {exc.start:,} cannot be decoded; save it as UTF-8",
        ) from None


_COMMENTS = re.compile(r'("(?:[^"\\\n]|\\.)*")|//[^\n]*|/\*.*?\*/', re.S)
_TRAILING_COMMAS = re.compile(r'("(?:[^"\\\n]|\\.)*")|,(\s*[\]}])', re.S)


def strip_jsonc(text: str) -> str:
    """JSON from JSONC (what wrangler.jsonc holds): comments and trailing commas removed, strings
    untouched. O(len(text))."""
    text = _COMMENTS.sub(lambda m: m.group(1) or " ", text)
    return _TRAILING_COMMAS.sub(lambda m: m.group(1) or m.group(2), text)


def parse(path: str, text: str) -> dict[str, Any]:
    """The document of ``text`` (TOML for ``.toml``, else JSON with comments), a table at the top."""
    try:
        if path.endswith(".toml"):
            doc = tomllib.loads(text)
        else:
            doc = json.loads(strip_jsonc(text))
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise WranglerError(path, "", f"not valid {'TOML' if path.endswith('.toml') else 'JSON(C)'}: {exc}") from None
    except RecursionError:
        raise WranglerError(path, "", "nested too deeply to read: a wrangler file is a few levels deep") from None
    if not isinstance(doc, dict):
        raise WranglerError(
            path, "", f"holds a {type(doc).__name__} at the top; a wrangler file is a table (TOML) or an object (JSON)"
        )
    return doc


def read_wrangler(path: str) -> WranglerConfig:
    """The configuration of the wrangler file at ``path``; ``WranglerError`` if dotui cannot run it."""
    path = os.path.abspath(path)
    return Reader(path, parse(path, read_text(path))).config()


class Reader:
    """One pass over a parsed wrangler document, each key checked where it is read."""

    def __init__(self, path: str, doc: dict[str, Any]):
        self.path, self.doc = path, doc

    def fail(self, key: str, message: str) -> WranglerError:
        return WranglerError(self.path, key, message)

    def config(self) -> WranglerConfig:
        cfg = WranglerConfig(self.path, self._main())
        cfg.bindings = self._bindings()
        cfg.backends, cfg.renamed, cfg.deleted = self._migrations()
        for binding, cls in cfg.bindings.items():
            if cls in cfg.deleted and cls not in cfg.backends:
                raise self.fail(
                    "durable_objects.bindings",
                    f"{binding} binds class {cls}, which deleted_classes of the migrations deletes: bind a live class",
                )
            if cls not in cfg.backends:
                raise self.fail(
                    "durable_objects.bindings",
                    f"{binding} binds class {cls}, which no migration "
                    f"creates: add {cls!r} to new_sqlite_classes (or new_classes) of a migration, "
                    "as Cloudflare requires before it deploys the class",
                )
        cfg.vars = self._vars()
        cfg.other_bindings = self._other_bindings()
        return cfg

    def _main(self) -> str:
        main = self.doc.get("main")
        if main is None:
            raise self.fail("main", 'missing: name the Worker\'s Python module, e.g. main = "src/entry.py"')
        if not isinstance(main, str) or not main:
            raise self.fail("main", f'is {main!r}; give the path of the Worker\'s Python module, e.g. "src/entry.py"')
        if not main.endswith(".py"):
            raise self.fail(
                "main",
                f"is {main!r}: dotui runs Python Workers, so main is a .py module "
                "(a JavaScript Worker runs on wrangler dev)",
            )
        folder = os.path.dirname(self.path)
        full = os.path.normpath(os.path.join(folder, main))
        if os.path.isabs(main) or not full.startswith(folder + os.sep):
            raise self.fail("main", f"is {main!r}, outside the project folder {folder}; give a path inside it")
        if not os.path.isfile(full):
            raise self.fail("main", f"is {main!r}, but {full} is not a file: create it or fix the path")
        return full

    def _list(self, value: Any, key: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(key, f"is a {type(value).__name__}; it is a list")
        return value

    def _class_name(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not _NAME.match(value):
            raise self.fail(key, f"is {value!r:.100}; a class name is a Python identifier")
        return value

    def _bindings(self) -> dict[str, str]:
        dos = self.doc.get("durable_objects")
        if dos is None:
            return {}
        if not isinstance(dos, dict):
            raise self.fail("durable_objects", "is not a table; it holds bindings = [{name, class_name}, ...]")
        out: dict[str, str] = {}
        for i, b in enumerate(self._list(dos.get("bindings"), "durable_objects.bindings")):
            key = f"durable_objects.bindings[{i}]"
            if not isinstance(b, dict):
                raise self.fail(key, 'is not a table; each binding is {name = "...", class_name = "..."}')
            for extra in ("script_name", "environment"):
                if extra in b:
                    raise self.fail(
                        f"{key}.{extra}",
                        "binds a class of another Worker; dotui runs one Worker's "
                        "own classes (bind classes that main defines)",
                    )
            name = self._class_name(b.get("name"), f"{key}.name")
            cls = self._class_name(b.get("class_name"), f"{key}.class_name")
            if name in out:
                raise self.fail(f"{key}.name", f"binding {name} is declared twice; give each binding its own name")
            out[name] = cls
        return out

    def _migrations(self) -> tuple[dict[str, str], dict[str, str], list[str]]:
        backends: dict[str, str] = {}
        renamed: dict[str, str] = {}
        deleted: list[str] = []
        tags: set[str] = set()
        for i, m in enumerate(self._list(self.doc.get("migrations"), "migrations")):
            key = f"migrations[{i}]"
            if not isinstance(m, dict):
                raise self.fail(key, "is not a table; each migration is {tag, new_sqlite_classes, ...}")
            tag = m.get("tag")
            if not isinstance(tag, str) or not tag or tag in tags:
                raise self.fail(f"{key}.tag", f'is {tag!r}; each migration has a tag of its own ("v1", "v2", ...)')
            tags.add(tag)
            if "transferred_classes" in m:
                raise self.fail(
                    f"{key}.transferred_classes",
                    f"moves classes between Workers; dotui runs one Worker: {SUPPORTED} are what it reads",
                )
            for field_name, backend in (("new_classes", "kv"), ("new_sqlite_classes", "sqlite")):
                for j, c in enumerate(self._list(m.get(field_name), f"{key}.{field_name}")):
                    c = self._class_name(c, f"{key}.{field_name}[{j}]")
                    if c in backends:
                        raise self.fail(f"{key}.{field_name}[{j}]", f"class {c} was created by an earlier migration")
                    backends[c] = backend
            for j, r in enumerate(self._list(m.get("renamed_classes"), f"{key}.renamed_classes")):
                rk = f"{key}.renamed_classes[{j}]"
                if not isinstance(r, dict):
                    raise self.fail(rk, 'is not a table; a rename is {from = "Old", to = "New"}')
                old = self._class_name(r.get("from"), f"{rk}.from")
                new = self._class_name(r.get("to"), f"{rk}.to")
                if old not in backends:
                    raise self.fail(f"{rk}.from", f"class {old} is not created by an earlier migration")
                if new in backends:
                    raise self.fail(f"{rk}.to", f"class {new} exists already")
                backends[new] = backends.pop(old)
                renamed[old] = new
            for j, c in enumerate(self._list(m.get("deleted_classes"), f"{key}.deleted_classes")):
                c = self._class_name(c, f"{key}.deleted_classes[{j}]")
                if backends.pop(c, None) is None:
                    raise self.fail(f"{key}.deleted_classes[{j}]", f"class {c} is not created by an earlier migration")
                deleted.append(c)
        return backends, renamed, deleted

    def _vars(self) -> dict[str, Any]:
        v = self.doc.get("vars")
        if v is None:
            return {}
        if not isinstance(v, dict):
            raise self.fail("vars", "is not a table; vars are NAME = value")
        for name in v:
            if not _NAME.match(name):
                raise self.fail(f"vars.{name}", "is not a name Python code can read as env.NAME")
        return dict(v)

    def _other_bindings(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for key in OTHER_BINDINGS:
            value = self.doc.get(key)
            items = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
            for item in items:
                name = item.get("binding") or item.get("name") if isinstance(item, dict) else None
                if isinstance(name, str):
                    out[name] = key
        return out
