"""The dialogs of the main screen: each composes a registry command line and runs it.

Invoke submits ``call REF METHOD ARGS`` (``--times N --concurrent`` for ×N),
New submits ``wake NS/NAME``, Alarm ``alarm REF set WHEN`` or ``alarm REF
delete``, Edit ``put REF KEY VALUE`` or ``del REF KEY``: the same lines a user
could type in the REPL or the command bar, answered in the same words.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ...commands import Outcome
from ...commands.parsing import format_name
from ..actions import Scope
from ..screens.alarm import AlarmScreen
from ..screens.invoke import InvokeScreen
from ..screens.new_object import NewObjectScreen
from ..screens.storage_edit import StorageEditScreen

if TYPE_CHECKING:
    from ..app import MainScreen


def literal(value: Any) -> str:
    """``value`` as a literal of the command language (Python's own spelling reads back as it was)."""
    return repr(value)


def call_line(ref: str, method: str, args: list, kwargs: dict, times: int = 1) -> str:
    """The ``call`` command for ``ref.method(*args, **kwargs)``, ×``times`` at once."""
    words = ["call", ref, method, *map(literal, args), *(f"{k}={literal(v)}" for k, v in kwargs.items())]
    if times > 1:
        words += ["--times", str(times), "--concurrent"]
    return " ".join(words)


class Dialogs:
    def __init__(self, screen: MainScreen):
        self.screen = screen
        self.last_method: dict[str, str] = {}  # per namespace: the method invoked last, offered first

    def _scope(self, action: str) -> Scope | None:
        scope = self.screen.scope()
        return scope if scope.info is not None and self.screen.enabled(action) is True else None

    def invoke(self, method: str | None = None) -> None:
        s = self.screen
        scope = self._scope("invoke")
        if scope is None:
            return
        ns, ref, label = scope.row["namespace"], scope.ref, scope.label
        runner = s.commands

        def invoker(m: str, args: list, kwargs: dict, times: int):
            return runner.submit(call_line(ref, m, args, kwargs, times))

        if method is None and s.object_view.active_tab == "methods":
            opt = s.object_view.methods_view.highlighted_option
            method = opt.id if opt is not None and opt.id != "__class__" else None
        if method is None:
            method = self.last_method.get(ns)

        def closed(last: str | None) -> None:
            if last is not None:
                self.last_method[ns] = last
            s.kick(detail=True)

        def left_running(m: str, fut) -> None:
            s.notify(f"{label}.{m} has not returned yet; its answer will show here", timeout=3)
            s.run_worker(self._await_call(f"{label}.{m}", fut), group="calls", exit_on_error=False)

        s.app.push_screen(InvokeScreen(label, s.namespaces[ns], invoker, method, left_running), callback=closed)

    async def _await_call(self, what: str, fut) -> None:
        """A call whose dialog was closed: say how it ended, as the REPL would."""
        s = self.screen
        try:
            outcome: Outcome = await asyncio.shield(asyncio.wrap_future(fut))
        except Exception as exc:  # noqa: BLE001 - its dialog is closed: the toast is where it is said
            s.notify(f"{what}: {type(exc).__name__}: {exc}", severity="error", timeout=8, markup=False)
        else:
            s.commands.toast(outcome, prefix=f"{what} returned " if outcome.ok else f"{what}: ")
        finally:
            s.kick(detail=True)

    def new_object(self) -> None:
        s = self.screen
        if not s.namespaces:
            return
        current = s.selected[0] if s.selected else s.rows.namespace

        def made(result: tuple[str, str] | None) -> None:
            if result is None:
                return
            ns, name = result

            def woke(outcome: Outcome) -> None:
                s.commands.toast(outcome)
                if outcome.ok:
                    info = outcome.result["instance"]
                    s.view.go_to((info["namespace"], info["id"]))

            s.commands.run(f"wake {ns}/{format_name(name)}", done=woke)

        s.app.push_screen(NewObjectScreen(list(s.namespaces.values()), current), callback=made)

    def alarm(self) -> None:
        s = self.screen
        scope = self._scope("alarm")
        if scope is None:
            return
        has_handler = bool((scope.namespace or {}).get("alarm"))

        def chosen(result: tuple[str, str | None] | None) -> None:
            if result is None:
                return
            what, when = result
            s.commands.run(f"alarm {scope.ref} set {when}" if what == "set" else f"alarm {scope.ref} delete")

        s.app.push_screen(AlarmScreen(scope.label, scope.row.get("alarm"), has_handler, s.clock), callback=chosen)

    def edit_storage(self) -> None:
        s = self.screen
        s.object_view.active_tab = "storage"
        scope = s.scope()
        if scope.info is None:
            return
        view = s.object_view.storage_view
        key = view.current_key
        exists = key is not None

        def chosen(result: tuple[str, str, Any] | None) -> None:
            if result is None:
                return
            what, k, value = result
            s.object_view.active_tab = "storage"
            s.commands.run(
                f"put {scope.ref} {literal(k)} {literal(value)}" if what == "put" else f"del {scope.ref} {literal(k)}"
            )

        s.app.push_screen(
            StorageEditScreen(scope.label, key, view.current_value() if exists else None, exists), callback=chosen
        )
