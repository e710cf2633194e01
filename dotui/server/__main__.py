"""``python -m dotui.server``: the gateway, without the rest of the command line.

The first line printed is ``dotui serve: <URL>`` (with the bound port when
``--port 0`` asks for a free one).
"""

from __future__ import annotations

import argparse
import sys

from .cli import DEFAULT_HOST, DEFAULT_PORT, serve_main
from .limits import add_limit_flags, limits_from_args


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m dotui.server",
        description="Serve the objects of a folder over HTTP (the dotui gateway).",
        epilog="example: python -m dotui.server --objects objects --data .dotui --port 8787",
    )
    ap.add_argument("--objects", default="objects", help="the objects folder (default: objects)")
    ap.add_argument("--data", default=".dotui", help="the data folder (default: .dotui)")
    ap.add_argument(
        "--idle", type=float, default=None, metavar="SECONDS", help="hibernate objects idle this long (default: 10)"
    )
    ap.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default: {DEFAULT_HOST})")
    ap.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT}; 0 = any free)")
    ap.add_argument("--token", default=None, help="the bearer token to require (default: a new random one)")
    add_limit_flags(ap)
    ap.add_argument(
        "--log-requests",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="print a line per request (default: when the output is a terminal)",
    )
    a = ap.parse_args(argv)
    return serve_main(
        a.objects, a.data, a.idle, a.host, a.port, a.token, limits=limits_from_args(a), log_requests=a.log_requests
    )


if __name__ == "__main__":
    sys.exit(main())
