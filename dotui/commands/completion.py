"""Completion for any front end: what may come next at the cursor of a command line.

No UI library here: ``Completer(facade).complete(text_before_cursor)`` returns
``Completion`` records; the REPL adapts them to prompt_toolkit, the TUI command
bar to its own widget. It knows the commands, their argument kinds, the
namespaces, the object names (live and hibernated) and the methods (with their
signatures) of the class of the object being typed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..ops import EngineFacade
from .parsing import Token, format_name, parse_ref, tokenize
from .registry import Command, Kind, Registry

MAX_OBJECTS = 200  # object names offered at once; type more of the name to narrow it


@dataclass(frozen=True)
class Completion:
    """Replace ``text_before_cursor[start:]`` with ``text``.

    ``display`` is what a menu shows, ``meta`` the grey text beside it (a
    method's signature, a command's summary, an object's state); ``kind`` is
    one of command, namespace, object, method, option, key, word.
    """

    text: str
    start: int
    display: str
    meta: str = ""
    kind: str = ""

    def start_position(self, text_before_cursor: str) -> int:
        """The offset from the cursor, as prompt_toolkit counts it (zero or negative)."""
        return self.start - len(text_before_cursor)


_METHOD_PART = re.compile(r"(?P<name>.+)\.(?P<partial>[A-Za-z_0-9]*)", re.DOTALL)


class Completer:
    """Completions against a facade; what it asks the facade is cached for ``ttl`` seconds."""

    def __init__(
        self,
        facade: EngineFacade,
        registry: Registry | None = None,
        ttl: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        if registry is None:
            from . import REGISTRY

            registry = REGISTRY
        self.facade = facade
        self.registry = registry
        self.ttl = ttl
        self.clock = clock
        self._cache: dict[Any, tuple[float, Any]] = {}

    # ------------------------------------------------------------ what the engine knows
    def _cached(self, key: Any, fetch: Callable[[], Any]) -> Any:
        now = self.clock()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        value = fetch()
        self._cache[key] = (now, value)
        return value

    def invalidate(self) -> None:
        self._cache.clear()

    def namespaces(self) -> list[dict[str, Any]]:
        """The namespaces; none if the engine does not answer (the commands are still offered)."""
        try:
            return self._cached("namespaces", self.facade.namespaces)
        except Exception:  # noqa: BLE001 - completion must never break typing
            return []

    def namespace(self, name: str) -> dict[str, Any] | None:
        for ns in self.namespaces():
            if ns["name"] == name:
                return ns
        return None

    def objects(self, namespace: str) -> list[dict[str, Any]]:
        return self._cached(("instances", namespace), lambda: self.facade.instances(namespace))

    # ------------------------------------------------------------ completing
    def complete(self, text_before_cursor: str) -> list[Completion]:
        """What may replace the word at the cursor. Never raises for what a user types."""
        try:
            return self._complete(text_before_cursor)
        except Exception:  # noqa: BLE001 - completion must never break typing
            return []

    def _complete(self, text: str) -> list[Completion]:
        toks = tokenize(text, strict=False)
        if toks.comment is not None:
            return []
        items = list(toks.items)
        if items and items[-1].end == len(text) and (toks.open or not text[-1:].isspace()):
            current, before = items[-1], items[:-1]
        else:
            current, before = Token("", len(text), len(text)), items
        if not before:
            return self._first_word(current)
        cmd = self.registry.get(before[0].text)
        if cmd is None:
            return []
        return self._argument(cmd, [t.text for t in before[1:]], current)

    def _first_word(self, word: Token) -> list[Completion]:
        if "/" in word.text:
            return self._ref(word, with_method=True)
        out = [
            Completion(cmd.name, word.start, cmd.name, cmd.summary, "command")
            for cmd in sorted(self.registry.commands.values(), key=lambda c: c.name)
            if cmd.name.startswith(word.text)
        ]
        return out + self._namespace_words(word, suffix="/")

    def _namespace_words(self, word: Token, suffix: str = "") -> list[Completion]:
        prefix = word.text.lower()
        return [
            Completion(
                ns["name"] + suffix,
                word.start,
                ns["name"] + suffix,
                _first_line(ns.get("doc")) or "namespace",
                "namespace",
            )
            for ns in sorted(self.namespaces(), key=lambda n: n["name"])
            if ns["name"].lower().startswith(prefix)
        ]

    def _ref(self, word: Token, with_method: bool) -> list[Completion]:
        """``NS/na`` → object names; with ``with_method``, ``NS/name.me`` → methods."""
        ns_name, _, rest = word.text.partition("/")
        if "(" in rest:
            return []  # inside the argument list
        if with_method:
            m = _METHOD_PART.fullmatch(rest)
            if m is not None:
                methods = self._methods(
                    ns_name, m.group("partial"), word.start + len(word.text) - len(m.group("partial"))
                )
                if methods or not self._object_names(ns_name, word, rest):
                    return methods
        return self._object_names(ns_name, word, rest)

    def _object_names(self, ns_name: str, word: Token, typed: str) -> list[Completion]:
        """Names of ``ns_name``'s objects starting with ``typed``; ids when ``typed`` starts with ``#``."""
        if self.namespace(ns_name) is None:
            return []
        by_id = typed.startswith("#")
        out = []
        for obj in sorted(self.objects(ns_name), key=_object_order):
            name, state = obj.get("name"), obj.get("state", "")
            if by_id:
                shown = "#" + obj["id"][:12]
                if not ("#" + obj["id"]).startswith(typed.lower()):
                    continue
                meta = f"{format_name(name)} ({state})" if name is not None else state
            else:
                shown = "#" + obj["id"][:12] if name is None or name.startswith("#") else format_name(name)
                if not shown.startswith(typed):
                    continue
                meta = state
            out.append(Completion(f"{ns_name}/{shown}", word.start, shown, meta, "object"))
            if len(out) >= MAX_OBJECTS:
                break
        return out

    def _methods(self, ns_name: str, partial: str, start: int, parens: bool = True) -> list[Completion]:
        """Methods of ``ns_name`` starting with ``partial``; with ``parens``, as ``name(`` to go on typing."""
        ns = self.namespace(ns_name)
        if ns is None:
            return []
        out = []
        for m in ns["methods"]:
            if not m["name"].startswith(partial):
                continue
            sig = m.get("signature", "()")
            text = m["name"]
            if parens:
                text += "()" if sig.startswith("()") else "("
            out.append(Completion(text, start, m["name"], sig, "method"))
        return out

    def _argument(self, cmd: Command, before: list[str], current: Token) -> list[Completion]:
        positional, pending_option = _positional(cmd, before)
        if pending_option is not None:
            return []  # a value for an option: nothing to offer
        if current.text.startswith("-"):
            return [
                Completion(o.flag, current.start, o.flag, o.help, "option")
                for o in cmd.options
                if o.flag.startswith(current.text)
            ]
        index = len(positional)
        if index >= len(cmd.args):
            if cmd.args and cmd.args[-1].kind is Kind.ARGS:
                index = len(cmd.args) - 1
            else:
                return []
        arg = cmd.args[index]
        kind = arg.kind
        if kind in (Kind.REF, Kind.TARGET):
            if "/" in current.text:
                return self._ref(current, with_method=False)
            out = self._namespace_words(current, suffix="/")
            if kind is Kind.TARGET:
                out += self._namespace_words(current)
            return out
        if kind is Kind.NAMESPACE:
            return self._namespace_words(current)
        if kind is Kind.METHOD and positional:
            ns_name = positional[0].partition("/")[0]
            return self._methods(ns_name, current.text, current.start, parens=False)
        if kind in (Kind.KEY, Kind.PREFIX) and positional:
            return self._keys(positional[0], current)
        if kind is Kind.COMMAND:
            return [
                Completion(c.name, current.start, c.name, c.summary, "command")
                for c in sorted(self.registry.commands.values(), key=lambda c: c.name)
                if c.name.startswith(current.text)
            ]
        if kind is Kind.WORD:
            return [Completion(w, current.start, w, "", "word") for w in arg.choices if w.startswith(current.text)]
        return []

    def _keys(self, ref_text: str, current: Token) -> list[Completion]:
        ref = parse_ref(ref_text)
        info = self.facade.instance(ref.namespace, ref.ref)
        if info.get("state") == "unknown":
            return []
        keys = self.facade.read_storage(ref.namespace, ref.ref)["values"]
        out = []
        for key in keys:
            shown = key if re.fullmatch(r"[^\s'\"#()\[\]{}]+", key) else repr(key)
            if shown.startswith(current.text):
                out.append(Completion(shown, current.start, shown, "key", "key"))
        return out


def _positional(cmd: Command, before: list[str]) -> tuple[list[str], str | None]:
    """The positional tokens typed so far, and an option still waiting for its value."""
    positional: list[str] = []
    waiting: str | None = None
    for tok in before:
        if waiting is not None:
            waiting = None
            continue
        opt = cmd.option(tok) if tok.startswith("--") else None
        if opt is not None:
            if opt.kind is not None:
                waiting = opt.flag
            continue
        positional.append(tok)
    return positional, waiting


def _object_order(obj: dict[str, Any]) -> tuple:
    return (obj.get("name") is None, obj.get("name") or "", obj["id"])


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def complete(facade: EngineFacade, text_before_cursor: str, registry: Registry | None = None) -> list[Completion]:
    """Completions at the end of ``text_before_cursor`` (no caching)."""
    return Completer(facade, registry, ttl=0).complete(text_before_cursor)
