"""The command of a Cloudflare Python Workers project (docs/cloudflare.md): ``requests``, registered in
the one registry: the Worker's last requests under ``dotui serve``, each a call with the object calls it
made. Returns data; the front ends render it (``present/workers.py``).
"""

from __future__ import annotations

from typing import Any

from .builtins import command
from .registry import Arg, Kind
from .runner import Context


@command(
    "requests",
    summary="the Worker's last requests (a wrangler project under dotui serve), each with the object calls it made",
    usage="requests [N]",
    args=(Arg("n", Kind.COUNT, optional=True, help="how many (default 20)"),),
    examples=("requests", "requests 5"),
    details="A request to the project's Default(WorkerEntrypoint).fetch is a call of the Worker: its method and "
    "path, the status it answered, how long it ran, and each call it made through a stub (RPC or "
    "stub.fetch) with its outcome. dotui serve keeps the last 200; watch shows them as they come.",
)
def requests(ctx: Context, n: int | None = None) -> dict[str, Any]:
    return {"requests": ctx.facade.worker_requests(n or 20)}
