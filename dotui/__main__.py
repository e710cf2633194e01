"""``python -m dotui``: the same as the ``dotui`` command (dotui/cli.py)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
