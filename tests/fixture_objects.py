"""The objects the command, CLI and REPL tests share: one ``Counter`` and the source of an objects file.

``objects_source(COUNTER, ...)`` is a module's text (``from dotui import DurableObject`` and the classes),
to write as ``objects/NAME.py``; a test that needs more of a counter passes ``counter(extra_methods)``.
"""

from __future__ import annotations

import textwrap

_COUNTER = '''
class Counter(DurableObject):
    """Counts."""

    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        self.since = 0
        self.released = False

    async def increment(self, by: int = 1) -> int:
        self.since += 1
        n = self.ctx.storage.get("n", 0) + by
        self.ctx.storage.put("n", n)
        return n

    def peek(self) -> int:
        return self.ctx.storage.get("n", 0)

    def since_wake(self) -> int:
        return self.since

    def fail(self, why: str = "boom"):
        return self._deeper(why)

    def _deeper(self, why):
        raise ValueError(why)
'''


def counter(extra_methods: str = "") -> str:
    """The ``Counter`` class's source, with ``extra_methods`` (source at class-body indent, any indent) added."""
    extra = textwrap.indent(textwrap.dedent(extra_methods).strip("\n"), "    ")
    return _COUNTER.rstrip("\n") + ("\n\n" + extra if extra else "") + "\n"


COUNTER = counter()


def objects_source(*classes: str, imports: str = "") -> str:
    """An objects file: ``imports`` (e.g. ``"import asyncio"``), DurableObject, then each class (dedented)."""
    head = (textwrap.dedent(imports).strip() + "\n" if imports else "") + "from dotui import DurableObject\n"
    return head + "".join("\n\n" + textwrap.dedent(c).strip("\n") + "\n" for c in classes)
