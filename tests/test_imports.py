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
        bad = sorted(m for m in modules
                     if m.split(".")[0] in ("textual", "prompt_toolkit")
                     or m.startswith(tuple(f"dotui.{f}" for f in FRONT_ENDS)))
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
        assert 'getattr(self.facade' not in text and "getattr(facade" not in text, f"{path} probes its facade"
