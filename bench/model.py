"""The storage model test (tests/test_storage_model.py) with a long profile.

    python bench/model.py [--examples 1000] [--steps 60]

CI runs the same state machine briefly on every push; this runs it long enough to
reach rare interleavings of transactions, refused values, hibernation, reload
and restarts. Any divergence from the model is shrunk and printed by hypothesis.
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=60)
    args = ap.parse_args()
    env = {**os.environ, "DOTUI_MODEL_EXAMPLES": str(args.examples), "DOTUI_MODEL_STEPS": str(args.steps)}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_storage_model.py"]
    return subprocess.call(cmd, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())
