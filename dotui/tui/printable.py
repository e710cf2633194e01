"""The TUI's last word on control characters: a line filter over every line any widget draws.

Textual (like rich) strips only BEL, BS, VT, FF and CR from text; ESC and the C1 controls (an 8-bit CSI
U+009B, OSC U+009D) in an object's name, a result, a stored key or value, an event, a docstring or a
WebSocket message would reach the terminal and be obeyed. The filter sees the screen's segments after
layout, so it replaces each control by one visible cell (``formats.visible``) and no column moves
(docs/trust.md, "What the front ends print: control characters").
"""

from __future__ import annotations

from rich.segment import Segment
from textual.color import Color
from textual.filter import LineFilter

from ..present.formats import visible


class PrintableFilter(LineFilter):
    """Every control character in a drawn line shown as a visible cell. O(line width); Textual caches
    the filtered line with the line."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        return [
            segment
            if segment.control or segment.text.isprintable()
            else Segment(visible(segment.text), segment.style, None)
            for segment in segments
        ]
