"""dotui installed from its wheel, as a user installs it, used from a folder that is not this checkout.

Builds the wheel (``pip wheel --no-deps``, with pip's build isolation), installs it into a fresh virtual environment made outside
the checkout, and in an empty folder runs ``dotui -c classes`` (the bundled examples), ``dotui tour
--check`` and ``dotui init demo`` then ``pytest`` in it. The fresh environment gets only the wheel;
its third-party dependencies (and pytest) are this interpreter's, through a ``.pth`` line, so nothing
but the build's setuptools is fetched, and it cannot import this checkout's dotui (asserted). Run by
tests/test_wheel.py and by .ci/run. ``python tests/wheel_smoke.py`` prints each step; exit 0 if all
passed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STEP_TIMEOUT = 300


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=STEP_TIMEOUT)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} (in {cwd}) exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def check(base: Path, say=print) -> dict[str, str]:
    """Every step in ``base`` (a scratch folder); what each printed. AssertionError at the first that fails."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    wheels = base / "wheels"
    # pip's own build isolation (setuptools and wheel fetched for the build), as `pip install .` does
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)], base, env)
    wheel = next(wheels.glob("dotui-*.whl"))
    say(f"built {wheel.name}")
    venv = base / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], base, env)
    python = venv / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)], base, env)
    site = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], base, env)
    deps = sysconfig.get_paths()["purelib"]  # this interpreter's packages: the dependencies, pytest
    Path(site.stdout.strip(), "zz_dotui_dependencies.pth").write_text(deps + "\n")
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    empty = base / "empty"
    empty.mkdir()
    where = run([str(python), "-c", "import dotui; print(dotui.__file__)"], empty, env).stdout.strip()
    assert where.startswith(str(venv)), f"dotui came from {where}, not the wheel installed in {venv}"
    out = {"dotui": where}
    out["classes"] = run([str(venv / "bin" / "dotui"), "-c", "classes"], empty, env).stdout
    for name in ("Counter", "ChatRoom", "Interleave"):
        assert name in out["classes"], f"dotui -c classes did not list the bundled {name}:\n{out['classes']}"
    say("dotui -c classes: the bundled examples")
    out["tour"] = run([str(venv / "bin" / "dotui"), "tour", "--check"], empty, env).stdout
    say("dotui tour --check: " + out["tour"].strip().splitlines()[-1])
    run([str(venv / "bin" / "dotui"), "init", "demo"], empty, env)
    out["pytest"] = run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"], empty / "demo", env).stdout
    say("dotui init demo, then pytest: " + out["pytest"].strip().splitlines()[-1])
    return out


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="dotui-wheel-") as base:
        try:
            check(Path(base))
        except (AssertionError, subprocess.TimeoutExpired) as exc:
            print(f"wheel check failed: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
