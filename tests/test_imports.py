"""Who may import whom: the engine no UI library, the presentation layer rich only, no front end another."""

import ast
import subprocess
import sys
from pathlib import Path

import dotui

PACKAGE = Path(dotui.__file__).parent
FRONT_ENDS = ("repl", "tui")  # the prompt and the screen; batch mode lives in repl


def imported_modules(path: Path, root: Path = PACKAGE.parent) -> set[str]:
    """Every module ``path`` (under ``root``) imports, anywhere in it (also inside functions), as absolute names."""
    package = ".".join(path.relative_to(root).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            out.add(name)
            out |= {f"{name}.{a.name}" for a in node.names}
    return out


def imports_of(subpackage: str) -> dict[str, set[str]]:
    return {str(p.relative_to(PACKAGE.parent)): imported_modules(p) for p in (PACKAGE / subpackage).rglob("*.py")}


def test_engine_imports_no_ui_library():
    code = (
        "import sys, dotui, dotui.engine, dotui.ops, dotui.ops.admin\n"
        "ui = sorted(m for m in sys.modules if m.split('.')[0] in {'textual', 'prompt_toolkit', 'rich'})\n"
        "print(','.join(ui))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"UI libraries imported by the engine: {out.stdout}"


def test_no_front_end_imports_another():
    for front in FRONT_ENDS:
        others = tuple(f"dotui.{o}" for o in FRONT_ENDS if o != front)
        for path, modules in imports_of(front).items():
            bad = sorted(m for m in modules if m.startswith(others))
            assert not bad, f"{path} (front end {front}) imports another front end: {bad}"


def test_the_presentation_layer_uses_rich_only():
    for path, modules in imports_of("present").items():
        bad = sorted(
            m
            for m in modules
            if m.split(".")[0] in ("textual", "prompt_toolkit") or m.startswith(tuple(f"dotui.{f}" for f in FRONT_ENDS))
        )
        assert not bad, f"{path} imports {bad}"
    code = (
        "import sys, dotui.present.render, dotui.present.formats\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in {'textual', 'prompt_toolkit'})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_tui_model_and_refresh_protocol_import_no_textual():
    code = (
        "import sys, dotui.tui.model, dotui.tui.refresh, dotui.tui.watcher, dotui.tui.gcpause\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] == 'textual')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_checker_sees_an_import_of_another_front_end(tmp_path):
    # the test above cannot pass by reading nothing: a lazy relative import is found
    probe = tmp_path / "dotui" / "tui" / "screens" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text("def f():\n    from ...repl.render import Renderer\n    import dotui.repl.prompt\n")
    found = imported_modules(probe, tmp_path)
    assert {"dotui.repl.render", "dotui.repl.render.Renderer", "dotui.repl.prompt"} <= found


def test_no_module_takes_an_untyped_facade():
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        assert "facade: Any" not in text, f"{path} takes facade: Any; use dotui.ops.EngineFacade"
        assert "getattr(self.facade" not in text and "getattr(facade" not in text, f"{path} probes its facade"


# ---------------------------------------------------------------- private names stay in their module
# The internals of other libraries the engine relies on, each read by one module only, with a test
# of its own that fails loudly if the library changes it (tests/test_loop_internals.py).
BORROWED = {
    "dotui/engine/loopinternals.py": {"_ready", "_asyncio_future_blocking"},
    # aiohttp's compiled in-place XOR where it is built (the pure-Python XOR otherwise): tests/test_loop_internals.py
    "dotui/server/wsframes.py": {"_websocket", "_websocket_mask_cython"},
}


def _own_names(tree: ast.AST) -> set[str]:
    """The names a module defines itself: functions, classes, variables, parameters, imports, and the
    attributes it sets on ``self`` or ``cls`` (its own classes' fields)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.split(".")[0])
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.ctx, (ast.Store, ast.Del))
            and isinstance(node.value, ast.Name)
            and node.value.id in ("self", "cls")
        ):
            names.add(node.attr)
    return names


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_reads(path: Path, root: Path = PACKAGE.parent) -> list[str]:
    """Where ``path`` imports, reads or sets a private name (``_x``) it does not define itself:
    ``from m import _x``, ``obj._x``, ``getattr(obj, "_x")``. O(size of the file)."""
    tree = ast.parse(path.read_text(), str(path))
    own = _own_names(tree)
    borrowed = BORROWED.get(str(path.relative_to(root)), set())
    imported = {
        a.asname or a.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for a in node.names
    }
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        theirs = False  # certainly another module's: imported from it, or read off it
        if isinstance(node, ast.ImportFrom):
            names, theirs = [a.name for a in node.names], True
        elif isinstance(node, ast.Attribute):
            names = [node.attr]
            theirs = isinstance(node.value, ast.Name) and node.value.id in imported
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr", "delattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            names = [node.args[1].value]
        for name in names:
            if _private(name) and name not in borrowed and (theirs or name not in own):
                found.append(f"{path.relative_to(root)}:{node.lineno}: {ast.unparse(node)[:80]}")
    return found


def test_no_module_imports_or_reads_a_private_name_of_another():
    found = [hit for path in sorted(PACKAGE.rglob("*.py")) for hit in private_reads(path)]
    assert not found, (
        "private names read across modules (make them public, or move the code to their "
        "module; a mixin declares what it runs on):\n" + "\n".join(found)
    )


def test_the_private_name_check_sees_each_way_of_reading_one(tmp_path):
    probe = tmp_path / "dotui" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text(
        "from .engine.values import _SCALARS\n"
        "from .engine import values\n"
        "_SCALARS = values._SCALARS\n"
        "class Mine:\n"
        "    def __init__(self, other):\n"
        "        self._mine = 1\n"
        "        self._mine += other._theirs\n"
        "        getattr(other, '_hidden', None)\n"
        "        other._poked = 2\n"
    )
    found = "\n".join(private_reads(probe, tmp_path))
    assert all(f":{n}:" in found for n in (1, 3, 7, 8, 9)), found
    assert ":6:" not in found  # its own field


# ---------------------------------------------------------------- units stay small (ARCHITECTURE.md)
ENGINE_FILE_LINES = 450  # no engine file longer: split it by concept (one unit per concept, one owner per state)
SCREEN_METHODS = 30  # no TUI screen (or app) class with more: move a concern into a controller (dotui/tui/controllers/)


def long_files(folder: Path, limit: int) -> dict[str, int]:
    """The ``.py`` files under ``folder`` longer than ``limit`` lines, with their length. O(size)."""
    lengths = {str(p.relative_to(folder.parent)): len(p.read_text().splitlines()) for p in sorted(folder.rglob("*.py"))}
    return {path: n for path, n in lengths.items() if n > limit}


def test_no_engine_file_is_longer_than_its_bound():
    found = long_files(PACKAGE / "engine", ENGINE_FILE_LINES)
    assert not found, f"engine files over {ENGINE_FILE_LINES} lines (split each by concept): {found}"


def test_the_length_check_sees_a_long_file(tmp_path):
    (tmp_path / "engine").mkdir()
    (tmp_path / "engine" / "long.py").write_text("x = 1\n" * (ENGINE_FILE_LINES + 1))
    (tmp_path / "engine" / "short.py").write_text("x = 1\n" * ENGINE_FILE_LINES)
    assert long_files(tmp_path / "engine", ENGINE_FILE_LINES) == {"engine/long.py": ENGINE_FILE_LINES + 1}


def methods_of(cls: type) -> set[str]:
    """The methods (properties too) a class defines itself or takes from a dotui class it derives from
    (a mixin counts): what a reader of the class must keep in mind."""
    import inspect

    return {
        name
        for klass in cls.__mro__
        if klass.__module__.split(".")[0] == "dotui"
        for name, value in vars(klass).items()
        if inspect.isfunction(value) or isinstance(value, (property, staticmethod, classmethod))
    }


def test_no_screen_class_has_more_methods_than_its_bound():
    import importlib
    import inspect
    import pkgutil

    from textual.app import App
    from textual.screen import Screen

    import dotui.tui

    counts = {}
    for info in pkgutil.walk_packages(dotui.tui.__path__, "dotui.tui."):
        module = importlib.import_module(info.name)
        for cls in vars(module).values():
            if inspect.isclass(cls) and issubclass(cls, (Screen, App)) and cls.__module__ == module.__name__:
                counts[f"{cls.__module__}.{cls.__qualname__}"] = len(methods_of(cls))
    assert "dotui.tui.app.MainScreen" in counts and "dotui.tui.app.DotuiApp" in counts, sorted(counts)
    over = {name: n for name, n in counts.items() if n > SCREEN_METHODS}
    assert not over, f"screen classes over {SCREEN_METHODS} methods (move a concern into a controller): {over}"


def test_the_method_count_takes_a_mixin_in():
    class Mixin:
        def a(self): ...

        @property
        def b(self): ...

    Mixin.__module__ = "dotui.probe"

    class Screenish(Mixin):
        def c(self): ...

    Screenish.__module__ = "dotui.probe"
    assert methods_of(Screenish) == {"a", "b", "c"}
