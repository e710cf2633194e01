"""The command palette (ctrl+p): every row of the action table that applies now, and a jump to any instance."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, Protocol, runtime_checkable

from textual.command import DiscoveryHit, Hit, Hits, Provider

from . import glossary
from .model import InstanceRows, Key, label_of, row_state

MAX_OBJECT_HITS = 20


def objects_matching(rows: dict[Key, dict], query: str, limit: int) -> list[tuple[str, str, Key]]:
    """(label, what its state means, key) of up to ``limit`` instances whose label or id has ``query``; O(rows)."""
    q = query.strip().lower()
    out = []
    for key, info in rows.items():
        label = f"{key[0]}/{label_of(info)}"
        if q in label.lower() or key[1].startswith(q.lstrip("#")):
            out.append((label, glossary.STATES[row_state(info)], key))
            if len(out) >= limit:
                break
    return out


@runtime_checkable
class Offering(Protocol):
    """A screen with entries of its own in the palette (the main screen): its commands, its instances."""

    rows: InstanceRows

    def palette_commands(self) -> Iterable[tuple[str, str, Callable[[], Any]]]: ...

    def go_to(self, key: Key) -> None: ...


class PaletteProvider(Provider):
    """Asks the screen it was opened from for its commands (``palette_commands``)."""

    def _commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        screen = self.screen
        return list(screen.palette_commands()) if isinstance(screen, Offering) else []

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
        screen = self.screen
        if not isinstance(screen, Offering) or len(query.strip()) < 2:
            return
        for label, help_text, key in objects_matching(screen.rows.rows, query, MAX_OBJECT_HITS):
            text = f"Go to {label}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(screen.go_to, key), help=help_text)
