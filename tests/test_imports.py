import subprocess
import sys


def test_engine_imports_no_ui_library():
    code = (
        "import sys, dotui, dotui.engine, dotui.engine.facade\n"
        "ui = sorted(m for m in sys.modules if m.split('.')[0] in {'textual', 'prompt_toolkit', 'rich'})\n"
        "print(','.join(ui))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"UI libraries imported by the engine: {out.stdout}"
