"""The Worker entrypoint of a wrangler project: every path the gateway does not route itself.

``dotui serve`` on a Cloudflare Python Workers project answers ``/`` (and every path that is not one
of the gateway's own: ``/objects/``, ``/fetch/``, ``/ws/``, ``/admin/``, ``/openapi.json``) with the
project's ``Default(WorkerEntrypoint).fetch``, without the token, as ``wrangler dev`` does; the
gateway's own routes keep the token. A WebSocket upgrade reaches the Worker as a ``Request``; when
the Worker forwards it with ``stub.fetch(request)`` and the object accepts the socket, the gateway
holds that connection as for ``/ws/...`` (``websocket.hold_websocket``). Without a Worker, ``GET /``
lists the routes as before.

Each request is a call of the Worker (``dotui/workers/requests.py``): published as a ``worker.request``
event (method, path, status, seconds, the error, the object calls it made) and kept for ``requests``,
so ``watch``, ``requests`` and the TUI show it with the calls it made. Transport only: the conversions are
``dotui/workers/``'s. O(size of the request and the answer).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..workers.requests import WorkerRequest, current, log_of

log = logging.getLogger("dotui")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Every path but the gateway's own prefixes (whose wrong methods stay a 405 of their routes).
WORKER_PATHS = r"/{path:(?!(?:objects|fetch|ws|admin)(?:/|$)|openapi\.json$).*}"


def project_of(request: web.Request) -> Any:
    """The wrangler project the gateway's engine runs, if it has a Worker (else None). O(1)."""
    from ..workers.project import worker_of
    from .app import ADMIN

    engine = getattr(request.app[ADMIN], "engine", None)  # a cluster's admin serves no Worker (docs/cluster.md)
    project = worker_of(getattr(engine, "objects_dir", None) or "")
    return project if project is not None and project.worker is not None else None


def is_public(request: web.Request) -> bool:
    """A request for the project's Worker: answered without the token (as ``wrangler dev``). O(1)."""
    route = getattr(request.match_info, "route", None)
    return getattr(getattr(route, "handler", None), "worker_route", False) and project_of(request) is not None


def worker_route(fallback: Handler) -> Handler:
    """The catch-all route's handler: the project's Worker, else ``fallback`` at ``GET /``."""

    async def worker_or_fallback(request: web.Request) -> web.StreamResponse:
        return await serve_worker_or(fallback, request)

    worker_or_fallback.worker_route = True  # type: ignore[attr-defined]
    return worker_or_fallback


class _Upgrade:
    """The WebSocket upgrade of one Worker request: opened on the object the Worker forwards it to."""

    def __init__(self, request: web.Request):
        self.request = request
        self.opened: tuple[str, Any, Any, dict[str, str]] | None = None  # (namespace, socket, conn, headers)

    async def __call__(self, namespace: str, oid: Any, native_request: dict[str, Any]) -> Any:
        from ..workers.http import Response
        from .app import ADMIN, PEERS, shielded
        from .websocket import Connection, handshake_headers, refusal_answer

        if self.opened is not None:
            raise RuntimeError("this WebSocket upgrade was forwarded already; a request is forwarded once")
        headers = handshake_headers(self.request)
        conn = Connection(self.request.app[PEERS], self.request)
        hub = self.request.app[ADMIN].engine.websockets
        sock, answer = await shielded(hub.open(namespace, oid, native_request, conn))
        if sock is None:
            return Response.from_native(refusal_answer(answer))
        self.opened = (namespace, sock, conn, headers)
        return Response(None, status=101)


async def serve_worker_or(fallback: Handler, request: web.Request) -> web.StreamResponse:
    """The Worker's answer to ``request``; without a Worker, ``fallback`` for ``GET /`` and 404 elsewhere."""
    project = project_of(request)
    if project is None:
        if request.path == "/" and request.method in ("GET", "HEAD"):
            return await fallback(request)
        raise web.HTTPNotFound()
    return await _serve(request, project)


async def _serve(request: web.Request, project: Any) -> web.StreamResponse:
    from ..workers.entrypoints import make_worker
    from ..workers.http import LOCAL_CF, Request, Response
    from ..workers.rpc import JsDict
    from .app import ADMIN, PEERS, BadFetchResponse, error_response, fetch_response, read_body, request_error, shielded
    from .websocket import hold_websocket

    admin = request.app[ADMIN]
    engine = admin.engine
    body = await read_body(request)
    headers = [(str(k), v) for k, v in request.headers.items()]
    if "CF-Connecting-IP" not in request.headers and request.remote:
        headers.append(("CF-Connecting-IP", request.remote))  # as Cloudflare's edge adds it
    req = Request(str(request.url), method=request.method, headers=headers, body=body or None, cf=JsDict(LOCAL_CF))
    upgrade = None
    if request.headers.get("Upgrade", "").lower() == "websocket":
        upgrade = req.upgrade = _Upgrade(request)
    pending: set[asyncio.Future] = set()
    worker = make_worker(project.worker, engine.env, project.config, lambda aw: pending.add(asyncio.ensure_future(aw)))
    record = WorkerRequest(request.method, request.path_qs)
    token = current.set(record)  # the Worker's task (made now) runs with it: its stub calls are noted
    try:
        answer = await shielded(_fetch(worker, req))
    except Exception as exc:
        log.exception("the Worker's fetch raised, for %s %s", request.method, request.path_qs)
        _publish(engine, record, 500, error=f"{type(exc).__name__}: {exc}")
        return web.Response(status=500, text=f"Worker threw exception: {type(exc).__name__}: {exc}\n")
    finally:
        current.reset(token)
        _keep_until_done(pending)
    if upgrade is not None and upgrade.opened is not None and isinstance(answer, Response) and answer.status == 101:
        namespace, sock, conn, hs = upgrade.opened
        _publish(engine, record, 101)
        return await hold_websocket(
            request,
            engine.websockets,
            namespace,
            sock,
            conn,
            hs,
            _answer_or_502(fetch_response, BadFetchResponse, error_response, request_error),
            shielded,
            request.app[PEERS],
        )
    try:
        native = answer.to_native() if isinstance(answer, Response) else answer
        response = fetch_response(project.worker.__name__, native)
    except (BadFetchResponse, TypeError) as exc:
        _publish(engine, record, 502, error=str(exc))
        return error_response(502, request_error("BadFetchResponse", str(exc)))
    _publish(engine, record, response.status)
    return response


async def _fetch(worker: Any, req: Any) -> Any:
    fetch = getattr(worker, "fetch", None)
    if fetch is None:
        raise TypeError(f"{type(worker).__name__} has no fetch(self, request) method: define one to answer HTTP")
    answer = fetch(req)
    return (await answer) if asyncio.iscoroutine(answer) or isinstance(answer, asyncio.Future) else answer


def _answer_or_502(fetch_response: Any, bad: type[Exception], error_response: Any, request_error: Any) -> Any:
    def answer(namespace: str, native: Any) -> web.Response:
        try:
            return fetch_response(namespace, native)
        except bad as exc:
            return error_response(502, request_error("BadFetchResponse", str(exc)))

    return answer


_background: set[asyncio.Future] = set()  # ctx.waitUntil work of answered requests, held until done


def _keep_until_done(pending: set[asyncio.Future]) -> None:
    """``ctx.waitUntil`` work goes on after the answer; its failure is logged, never lost in silence."""
    for fut in pending:
        _background.add(fut)
        fut.add_done_callback(_log_failure)


def _log_failure(fut: asyncio.Future) -> None:
    _background.discard(fut)
    if not fut.cancelled() and fut.exception() is not None:
        log.warning("work the Worker passed to ctx.waitUntil failed: %r", fut.exception())


def _publish(engine: Any, record: WorkerRequest, status: int, error: str | None = None) -> None:
    """The request is answered: kept in its project's log (``requests``) and published (``watch``, the TUI)."""
    record.finish(status, error)
    log_of(engine.objects_dir).add(record)
    bus = getattr(engine, "bus", None)
    if bus is not None and bus.active:
        bus.publish("worker.request", **record.describe())
