"""Command palette (ctrl+p): every action of the main screen, and a jump to any instance."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

MAX_OBJECT_HITS = 20


class DotuiCommands(Provider):
    """Asks the screen it was opened from for its commands (``palette_commands``)."""

    def _commands(self) -> list[tuple[str, str, object]]:
        get = getattr(self.screen, "palette_commands", None)
        return list(get()) if get is not None else []

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
        find = getattr(self.screen, "palette_objects", None)
        if find is None or len(query.strip()) < 2:
            return
        for label, help_text, key in find(query, MAX_OBJECT_HITS):
            text = f"Go to {label}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(self.screen.go_to, key), help=help_text)
