"""Storage's public surface: the engine reads uncommitted changes through it, never its fields."""

import ast
from pathlib import Path

from dotui import Engine
from dotui.engine.object import storage as storage_mod
from tests.conftest import write_objects

ROOT = Path(__file__).resolve().parent.parent / "dotui"

# Owned by the alarm scheduler's change (clearing a fired alarm); to go with it.
ALLOWED = {"_set_alarm"}


def _private_names() -> set[str]:
    tree = ast.parse(Path(storage_mod.__file__).read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == "Storage":
            for sub in ast.walk(node):
                if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id == "self":
                    if sub.attr.startswith("_") and not sub.attr.startswith("__"):
                        names.add(sub.attr)
    return names


def test_no_module_reads_storages_underscore_fields():
    private = _private_names() - ALLOWED
    assert {"_dirty", "_cleared", "_alarm_dirty", "_closed"} <= private
    found = []
    for path in ROOT.rglob("*.py"):
        if path.name == "storage.py" and path.parent.name == "object":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Attribute) and node.attr in private):
                continue
            base = node.value
            # Another object's field: reached through .storage, or a name bound to one.
            through_storage = isinstance(base, ast.Attribute) and base.attr == "storage"
            named = isinstance(base, ast.Name) and base.id in ("st", "storage")
            if through_storage or named:
                found.append(f"{path.relative_to(ROOT.parent)}:{node.lineno} .{node.attr}")
    assert found == []


SOURCE = """
    import asyncio
    from dotui import DurableObject

    class P(DurableObject):
        async def write_and_wait(self):
            self.ctx.storage.put("gone", 0)
            await self.ctx.storage.sync()
            self.ctx.storage.put("a", 1)
            self.ctx.storage.delete("gone")
            await asyncio.sleep(0)
            return "ok"
"""


async def test_pending_changes_are_reported_through_the_public_surface(tmp_path):
    objs = write_objects(tmp_path / "o", p=SOURCE)
    async with Engine(objects=str(objs), data=str(tmp_path / "d")) as e:
        p = e.env.P.get_by_name("p")
        seen = {}

        def look(event):
            # Published as the call suspends, before the commit of its writes runs.
            if event["type"] == "call.suspended" and event.get("awaiting") == "asyncio.sleep":
                seen["describe"] = e.instance_info("P", p.id)["pending_writes"]
                seen["read"] = e.read_storage("P", p.id)["pending"]
            return False

        sub = e.subscribe(predicate=look)
        assert await p.write_and_wait() == "ok"
        sub.close()
        assert seen["read"] == {"put": {"a": 1}, "deleted": ["gone"], "cleared": False}
        assert seen["describe"] == 2
        assert e.instance_info("P", p.id)["pending_writes"] == 0
        assert e.read_storage("P", p.id)["pending"] == {"put": {}, "deleted": [], "cleared": False}
