"""The footer: the main screen's keys that fit the row whole, in the action table's order (``actions.py``)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.events import Resize
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey  # the footer's own item, re-used to measure it (no public name)

PALETTE_ROOM = 12  # '▏^p palette', docked at the right


class FittingFooter(Footer):
    """Textual's compact footer, showing only the keys that fit: a key cut in half ('Cm') reads as a word
    nobody can press, and the last keys of the table are the ones to go (the help screen lists them all).
    O(keys) a compose."""

    _composed_at = 0  # the width the keys were chosen for

    def compose(self) -> ComposeResult:
        items = list(super().compose())
        width = self.size.width
        if not width:  # not laid out yet: the resize that follows composes again
            yield from items
            return
        keys = [w for w in items if isinstance(w, FooterKey) and not w.has_class("-command-palette")]
        room = width - (PALETTE_ROOM if len(keys) < len(items) else 0)
        used = 0
        for item in items:
            if item in keys:
                used += _width(item)
                if used > room:
                    continue
            yield item

    def on_resize(self, event: Resize) -> None:
        if event.size.width != self._composed_at:
            self._composed_at = event.size.width
            self.call_after_refresh(self.recompose)


def _width(item: Widget) -> int:
    assert isinstance(item, FooterKey)
    return len(item.key_display) + 1 + len(item.description) + 1  # compact: 'k Label' and the gap after it
