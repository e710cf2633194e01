"""Completion data, without any UI library: commands, namespaces, object names, methods."""

from __future__ import annotations

import textwrap

import pytest

from dotui.commands.completion import Completer, complete
from dotui.ops import LocalEngine

SHOP = textwrap.dedent('''
    from dotui import DurableObject


    class Counter(DurableObject):
        """Counts."""

        async def increment(self, by: int = 1) -> int:
            n = self.ctx.storage.get("n", 0) + by
            self.ctx.storage.put("n", n)
            return n

        def peek(self) -> int:
            return self.ctx.storage.get("n", 0)


    class Cart(DurableObject):
        """A shopping cart."""

        def add(self, item: str, qty: int = 1) -> dict:
            self.ctx.storage.put(item, qty)
            return {item: qty}
''')


@pytest.fixture
def facade(tmp_path):
    objects = tmp_path / "objects"
    objects.mkdir()
    (objects / "shop.py").write_text(SHOP)
    with LocalEngine(str(objects), str(tmp_path / "data"), idle_timeout=60) as f:
        f.call("Counter", "alice", "increment", [])
        f.call("Counter", "albert", "increment", [])
        f.hibernate("Counter", "albert")
        yield f


def texts(facade, line):
    return [c.text for c in complete(facade, line)]


def apply(line, completion):
    return line[: completion.start] + completion.text


def test_methods_after_a_reference_and_a_dot_carry_their_signatures(facade):
    found = complete(facade, "Counter/alice.")
    assert [(c.display, c.meta) for c in found] == [("increment", "(by: int = 1) -> int"), ("peek", "() -> int")]
    assert [apply("Counter/alice.", c) for c in found] == ["Counter/alice.increment(", "Counter/alice.peek()"]
    assert texts(facade, "Counter/alice.pe") == ["peek()"]


def test_object_names_live_and_hibernated(facade):
    found = complete(facade, "Counter/al")
    assert {(c.display, c.meta) for c in found} == {("alice", "live"), ("albert", "hibernated")}
    assert {apply("Counter/al", c) for c in found} == {"Counter/alice", "Counter/albert"}


def test_ids_after_a_hash(facade):
    hex_id = facade.resolve("Counter", "alice")["id"]
    found = complete(facade, "Counter/#" + hex_id[:3])
    assert [c.text for c in found] == ["Counter/#" + hex_id[:12]]
    assert found[0].meta == "alice (live)"


def test_the_first_word_is_a_command_or_a_namespace(facade):
    assert texts(facade, "h") == ["help", "hibernate", "history"]
    assert texts(facade, "C") == ["Cart/", "Counter/"]
    assert "classes" in texts(facade, "")


def test_arguments_follow_their_kind(facade):
    assert texts(facade, "call Counter/alice ") == ["increment", "peek"]
    assert texts(facade, "ls C") == ["Cart", "Counter"]
    assert texts(facade, "storage Counter/ali") == ["Counter/alice"]
    assert texts(facade, "storage C") == ["Cart/", "Counter/"]
    assert texts(facade, "watch Ca") == ["Cart/", "Cart"]
    assert texts(facade, "ls --") == ["--live", "--hibernated", "--page", "--all"]
    assert texts(facade, "alarm Counter/alice ") == ["set", "delete"]
    assert texts(facade, "help hi") == ["hibernate", "history"]
    assert texts(facade, "get Counter/alice ") == ["n"]


def test_nothing_is_offered_where_nothing_fits(facade):
    assert texts(facade, "Counter/alice.increment(") == []
    assert texts(facade, "Nope/") == []
    assert texts(facade, "frobnicate ") == []
    assert texts(facade, "sleep ") == []
    assert texts(facade, "watch --for ") == []
    assert texts(facade, "ls # a comment") == []
    assert texts(facade, "get Counter/nobody ") == []


def test_a_completer_caches_and_is_invalidated_after_commands(facade):
    now = [0.0]
    completer = Completer(facade, ttl=10, clock=lambda: now[0])
    assert [c.display for c in completer.complete("Counter/")] == ["albert", "alice"]
    facade.call("Counter", "carol", "increment", [])
    assert [c.display for c in completer.complete("Counter/")] == ["albert", "alice"]
    completer.invalidate()
    assert [c.display for c in completer.complete("Counter/")] == ["albert", "alice", "carol"]


def test_completion_never_raises_when_the_engine_fails():
    class Broken:
        def namespaces(self):
            raise RuntimeError("engine gone")

        def instances(self, ns=None):
            raise RuntimeError("engine gone")

    assert complete(Broken(), "Counter/alice.") == []
    assert [c.text for c in complete(Broken(), "qu")] == ["queue", "quit"]


def test_the_commands_package_imports_no_ui_library():
    import subprocess
    import sys

    code = (
        "import sys, dotui.commands, dotui.commands.completion; "
        "bad = [m for m in ('rich', 'prompt_toolkit', 'textual') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
