"""The Methods tab: what a stub can call on this class, with signatures and docstrings."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ....present.formats import STORAGE


def method_prompt(m: dict[str, Any]) -> Text:
    text = Text.assemble((m["name"], "bold"), (m.get("signature", "()"), ""))
    if m.get("async"):
        text.append("  async", "cyan")
    doc = (m.get("doc") or "").strip()
    if doc:
        text.append("\n  " + doc.replace("\n", "\n  "), "dim")
    return text


class MethodsView(OptionList):
    """One option per callable method; Enter asks to invoke it."""

    class InvokeRequested(Message):
        def __init__(self, method: str) -> None:
            super().__init__()
            self.method = method

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._shown: tuple | None = None

    def show(self, namespace: dict[str, Any] | None) -> None:
        methods = namespace.get("methods", []) if namespace else []
        ident = (namespace or {}).get("name"), tuple((m["name"], m.get("signature"), m.get("doc")) for m in methods)
        if ident == self._shown:
            return
        self._shown = ident
        self.clear_options()
        if namespace is None:
            return
        header = Text.assemble((namespace["name"], "bold"), ("  " + (namespace.get("doc") or ""), "dim"))
        header.append(
            f"\n  {namespace.get('mode', 'input-gate')} mode"
            + (" · has alarm()" if namespace.get("alarm") else " · no alarm()")
            + " · "
            + STORAGE.get(namespace.get("backend", "kv"), str(namespace.get("backend"))),
            "dim",
        )
        self.add_option(Option(header, id="__class__", disabled=True))
        if not methods:
            self.add_option(Option(Text("no public methods", style="dim"), disabled=True))
        for m in methods:
            self.add_option(Option(method_prompt(m), id=m["name"]))
        if methods:
            self.highlighted = 1

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id and event.option.id != "__class__":
            self.post_message(self.InvokeRequested(event.option.id))
