"""The HTTP gateway: every object addressable over HTTP, plus the admin API of the remote facade.

``make_app(engine, token)`` is an aiohttp ``Application`` serving an ``Engine``
that runs on the same asyncio loop. Routes (all need ``Authorization: Bearer``):

- ``POST /objects/{Namespace}/{name}/{method}`` and
  ``POST /objects/{Namespace}/id/{hex}/{method}``: body ``{"args": [...],
  "kwargs": {...}}`` (empty = no arguments), answer ``{"result": ...}``.
- ``/fetch/{Namespace}/{name}/{path}`` (any HTTP method): the raw request, as a
  dict, to the object's ``fetch(request)``; its answer becomes the response.
- ``/admin/...``: everything the command registry needs, and ``/admin/events``
  (WebSocket, or server-sent events for any other client).

Errors are ``{"error": {"type", "message", ...}}``: 400 bad JSON or arguments,
401 no token, 403 wrong token, 404 unknown namespace, method, id or route, 408
a body that did not arrive in time, 413 body too large, 503 overloaded (with
``Retry-After``), 500 the method raised, 502 a ``fetch`` answer that is not a response.
A call keeps running when its client goes away: the object never stops halfway
through a method because a socket closed.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.web_protocol import RequestHandler

from .. import __version__
from ..engine import Engine
from ..engine.ids import ObjectId
from ..ops import OPERATIONS, Admin, Operation, Param
from ..ops.codec import RETRY_AFTER_SECONDS, BadJSON, encode, encode_rows, loads, request_error
from ..ops.table import LISTINGS
from .auth import check_bearer
from .calls import ROUTES as CALL_ROUTES
from .calls import BadRequest, RequestTimeout, answer_bytes, answer_call, call_target
from .limits import MAX_EVENTS_MAXLEN, Limits, with_max_body
from .openapi import describe
from .websocket import WebSocketGateway, close_all, serve_websocket
from .worker import WORKER_PATHS, is_public, worker_route

DEFAULT_MAX_BODY = Limits.max_body  # 1 MiB
DEFAULT_EVENTS_MAXLEN = 10_000
SSE_KEEPALIVE_SECONDS = 15.0

ADMIN = web.AppKey("dotui_admin", Admin)
TOKEN = web.AppKey("dotui_token", str)
LIMITS = web.AppKey("dotui_limits", Limits)
STREAMS = web.AppKey("dotui_event_streams", set)
PEERS = web.AppKey("dotui_websocket_peers", WebSocketGateway)


_HTTP_TYPES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "PayloadTooLarge",
}


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None, encoder: Callable[[Any], bytes] = encode
) -> web.Response:
    return web.Response(
        body=encoder(data), status=status, content_type="application/json", charset="utf-8", headers=headers
    )


def bytes_response(status: int, body: bytes) -> web.Response:
    """An answer already encoded (``calls.answer_bytes``, ``calls.answer_call``): a 503 says when to
    retry, a 408 closes the connection (what is left of the body is not read)."""
    response = web.Response(
        body=body,
        status=status,
        content_type="application/json",
        charset="utf-8",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else None,
    )
    if status == 408:
        response.force_close()
    return response


def error_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
    if status == 503:
        headers = {**(headers or {}), "Retry-After": str(RETRY_AFTER_SECONDS)}
    return json_response(body, status, headers)


# ================================================================ middlewares
@web.middleware
async def errors_middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    """Every failure becomes a JSON error with a fitting status; no traceback leaves the server."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() not in ("content-type", "content-length")}
        message = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
        if exc.status == 404:
            message = (
                f"no route {request.method} {request.path}; object calls are "
                "POST /objects/{Namespace}/{name}/{method} (GET / lists every route)"
            )
        elif exc.status == 405:
            message = (
                f"{request.method} is not allowed on {request.path}; use {exc.headers.get('Allow', 'another method')}"
            )
        elif exc.status == 413:
            limit = request.app[LIMITS].max_body
            message = (
                f"the request body is larger than the gateway's limit of {limit:,} bytes; "
                "send less, or start the gateway with a larger --max-body"
            )
        return error_response(exc.status, request_error(_HTTP_TYPES.get(exc.status, "HTTPError"), message), headers)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - the object's error is the answer
        return bytes_response(*answer_bytes(exc))


class JsonErrorsHandler(RequestHandler):
    """aiohttp's connection handler, answering a request it cannot parse (a malformed head, a line too
    long) with a JSON error like every other, and logging it at debug level only: a client sending
    bad heads fills no log. The connection closes after the answer, as aiohttp's own does."""

    def handle_error(
        self, request: Any, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        if status >= 500:
            self.log_exception("Error handling request", exc_info=exc)
        else:
            self.log_debug("Bad request: %s", message)
        if request.writer.output_size > 0:
            raise ConnectionError("Response is sent already, cannot send another response with the error message")
        detail = " ".join(str(getattr(exc, "message", None) or message or exc or "").split())
        if status == 400:
            text = (
                f"the request is not HTTP/1.1 this gateway reads ({detail:.300}); send a well-formed "
                'request (docs/server.md, "Limits")'
            )
        else:
            text = detail or f"the gateway could not answer this request ({status})"
        response = web.Response(
            body=encode(request_error(_HTTP_TYPES.get(status, "HTTPError"), text)),
            status=status,
            content_type="application/json",
            charset="utf-8",
        )
        response.force_close()
        return response


@web.middleware
async def auth_middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    """A request without the token is answered 401/403 and its connection closes: a client that has not
    shown the token holds no connection open beyond its one answer (docs/server.md, "Limits")."""
    status = check_bearer(request.headers.get("Authorization"), request.app[TOKEN])
    if status == 200 or is_public(request):  # a wrangler project's Worker is public (server/worker.py)
        return await handler(request)
    if status == 401:
        response = json_response(
            request_error(
                "Unauthorized",
                "this gateway needs 'Authorization: Bearer <token>'; the token is in <data>/serve.token "
                "(written by `dotui serve`)",
            ),
            401,
            {"WWW-Authenticate": 'Bearer realm="dotui"'},
        )
    else:
        response = json_response(
            request_error(
                "Forbidden",
                "wrong token; use the one in <data>/serve.token of the running `dotui serve` "
                "(a restart makes a new one)",
            ),
            403,
        )
    response.force_close()
    return response


# ================================================================ helpers
async def shielded(coro: Awaitable[Any]) -> Any:
    """Await ``coro`` in a task of its own that a client disconnect cannot cancel: an object
    never stops halfway through a method because a socket closed."""
    task = asyncio.ensure_future(coro)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        task.add_done_callback(_consume)
        raise


def _consume(task: asyncio.Future) -> None:
    if not task.cancelled():
        task.exception()


async def read_body(request: web.Request) -> bytes:
    """The request's body, which must arrive whole within the gateway's body timeout (``RequestTimeout``,
    408, otherwise); aiohttp refuses one over ``--max-body`` (413)."""
    timeout = request.app[LIMITS].body_timeout
    try:
        async with asyncio.timeout(timeout):
            return await request.read()
    except TimeoutError:
        raise RequestTimeout(
            f"the request body did not arrive whole within {timeout:g} s (the gateway's "
            "--body-timeout); send it at once, on a new connection"
        ) from None


async def read_params(request: web.Request) -> dict[str, Any]:
    """Query parameters, overridden by the fields of a JSON object body."""
    params: dict[str, Any] = dict(request.query)
    body = await read_body(request)
    if body.strip():
        doc = loads(body)
        if not isinstance(doc, dict):
            raise BadRequest(f"the body must be a JSON object, not a {type(doc).__name__}")
        params.update(doc)
    return params


# ================================================================ object calls (calls.py: the route, written once)
async def object_call(request: web.Request) -> web.Response:
    """An object call fast.py handed over (or any, served by this application alone): parsed and
    answered as fast.py answers it, by ``calls.answer_call``; it runs to its end whoever goes away."""
    target = call_target(request.raw_path)
    if target is None:  # matched by the route's pattern, but not a call calls.py reads (an empty segment)
        raise web.HTTPNotFound()
    body = await read_body(request)
    status, payload = await shielded(answer_call(request.app[ADMIN], target, body))
    return bytes_response(status, payload)


# ================================================================ fetch
def fetch_request(request: web.Request, path: str, body: bytes) -> dict[str, Any]:
    """The request as a JSON-compatible dict, as a Worker hands it to a Durable Object."""
    headers: dict[str, str] = {}
    for k, v in request.headers.items():
        k = str(k)  # aiohttp's case-insensitive istr is not a plain str
        if k.lower() == "authorization":
            continue  # the gateway's token is not the object's business
        headers[k] = f"{headers[k]}, {v}" if k in headers else str(v)
    try:
        text, is_b64 = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, is_b64 = base64.b64encode(body).decode("ascii"), True
    return {
        "method": request.method,
        "url": str(request.url),
        "path": "/" + path,
        "query": {str(k): v for k, v in request.query.items()},
        "headers": headers,
        "body": text,
        "body_base64": is_b64,
    }


class BadFetchResponse(Exception):
    """A ``fetch`` answered something that is not a response: 502."""


def fetch_response(namespace: str, answer: Any) -> web.Response:
    """The HTTP response for what ``fetch`` returned: a str (200), or ``{status, headers, body}``."""
    if isinstance(answer, str):
        return web.Response(body=_text(namespace, answer), content_type="text/plain", charset="utf-8")
    if not isinstance(answer, dict):
        raise BadFetchResponse(
            f"{namespace}.fetch returned a {type(answer).__name__}; return a str, "
            'or a dict {"status": 200, "headers": {...}, "body": ...}'
        )
    status = answer.get("status", 200)
    if type(status) is not int or not 200 <= status <= 599:
        raise BadFetchResponse(f"{namespace}.fetch returned status {status!r}; use an int from 200 to 599")
    headers = _fetch_headers(namespace, answer.get("headers") or {})
    body = answer.get("body")
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
    if body is None:
        data = b""
    elif isinstance(body, str) and answer.get("body_base64"):
        try:
            data = base64.b64decode(body, validate=True)
        except ValueError as exc:
            raise BadFetchResponse(f"{namespace}.fetch set body_base64 but its body is not base64: {exc}") from None
    elif isinstance(body, str):
        data = _text(namespace, body)
        content_type = content_type or "text/plain; charset=utf-8"
    else:
        data = encode(body)
        content_type = content_type or "application/json"
    if data and status in (204, 304):
        raise BadFetchResponse(
            f"{namespace}.fetch returned status {status} with a body; a {status} has none: "
            "drop the body, or use another status"
        )
    headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    if content_type:
        headers["Content-Type"] = content_type
    return web.Response(body=data, status=status, headers=headers)


# RFC 9110 §5.1: a field name is a token; §5.5: a value holds no CR, LF, NUL or other control but HTAB.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# The gateway frames every answer itself (Content-Length, keep-alive): an object's framing header
# would contradict it, or smuggle a second answer into the connection.
FRAMING_HEADERS = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer", "proxy-connection"}
)


def _fetch_headers(namespace: str, headers: Any) -> dict[str, str]:
    """``fetch``'s headers, checked: a dict of str to str, each name a token, each value free of
    CR/LF/NUL and other controls, and no framing header; ``BadFetchResponse`` naming the first that is
    not. O(total header size)."""
    if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise BadFetchResponse(f"{namespace}.fetch returned headers {headers!r:.200}; use a dict of str to str")
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name):
            raise BadFetchResponse(
                f"{namespace}.fetch returned a header named {name!r:.100}, which is not a "
                "header name (letters, digits and !#$%&'*+-.^_`|~ only)"
            )
        if name.lower() in FRAMING_HEADERS:
            raise BadFetchResponse(
                f"{namespace}.fetch returned a {name!r} header; the gateway frames every "
                f"answer itself: drop it (it may not set {', '.join(sorted(FRAMING_HEADERS))})"
            )
        if _BAD_VALUE.search(value) or not _is_utf8(value):
            raise BadFetchResponse(
                f"{namespace}.fetch returned header {name!r} with the value {value!r:.100}, "
                "which holds a control character (CR, LF, NUL, ...) or a lone surrogate; "
                "remove it"
            )
    return headers


def _is_utf8(text: str) -> bool:
    try:
        text.encode()
        return True
    except UnicodeEncodeError:
        return False


def _text(namespace: str, text: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError as exc:
        raise BadFetchResponse(
            f"{namespace}.fetch returned text holding {text[exc.start]!r} at {exc.start}, "
            "a lone surrogate UTF-8 cannot carry; return valid text, or bytes as "
            'base64 with "body_base64": true'
        ) from None


async def fetch(request: web.Request) -> web.StreamResponse:
    admin = request.app[ADMIN]
    mi = request.match_info
    namespace = mi["namespace"]
    oid = admin.engine.namespace(namespace).id_from_name(mi["name"])
    if request.headers.get("Upgrade", "").lower() == "websocket":
        return await _websocket(request, admin, namespace, oid)
    req = fetch_request(request, mi.get("path", ""), await read_body(request))
    answer = await shielded(admin.call_id(namespace, oid, "fetch", [req], {}))
    try:
        return fetch_response(namespace, answer)
    except BadFetchResponse as exc:
        return error_response(502, request_error("BadFetchResponse", str(exc)))


async def websocket(request: web.Request) -> web.StreamResponse:
    """``GET /ws/{namespace}/{name}/{path}``: a WebSocket to the object's ``fetch`` (``websocket.py``)."""
    admin = request.app[ADMIN]
    namespace = request.match_info["namespace"]
    oid = admin.engine.namespace(namespace).id_from_name(request.match_info["name"])
    return await _websocket(request, admin, namespace, oid)


async def _websocket(request: web.Request, admin: Admin, namespace: str, oid: ObjectId) -> web.StreamResponse:
    return await serve_websocket(
        request,
        admin.engine.websockets,
        namespace,
        oid,
        request.match_info.get("path", ""),
        fetch_request,
        _fetch_response_or_502,
        shielded,
        request.app[PEERS],
    )


def _fetch_response_or_502(namespace: str, answer: Any) -> web.Response:
    try:
        return fetch_response(namespace, answer)
    except BadFetchResponse as exc:
        return error_response(502, request_error("BadFetchResponse", str(exc)))


# ================================================================ admin: the table of Admin's operations
def _coerce(op: Operation, params: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of ``op`` from query and body fields (query values are text)."""
    unknown = sorted(set(params) - {p.name for p in op.params})
    if unknown:
        names = ", ".join(p.name for p in op.params) or "none"
        raise BadRequest(f"{op.verb} {op.path} takes no parameter {unknown[0]!r}; it takes: {names}")
    out: dict[str, Any] = {}
    for p in op.params:
        if p.name not in params or (params[p.name] == "" and not p.required):
            if p.required:
                raise BadRequest(
                    f"missing {p.name!r}: give it in the query string or the JSON body "
                    f"of {op.verb} {op.path} (it takes: {', '.join(q.name for q in op.params)})"
                )
            continue
        out[p.name] = _kind(op, p, params[p.name])
    return out


def _kind(op: Operation, p: Param, value: Any) -> Any:
    if p.kind is object or (value is None and not p.required):
        return value
    if p.kind is int and isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    if p.kind in (list, dict) and isinstance(value, str):  # a query value: JSON text (RemoteEngine sends it so)
        try:
            value = loads(value)
        except BadJSON:
            pass
    if isinstance(value, p.kind) and not isinstance(value, bool):
        return value
    raise BadRequest(f"{p.name!r} must be a {_KIND_NAMES[p.kind]} ({op.verb} {op.path}); got {value!r:.200}")


_KIND_NAMES = {str: "string", int: "whole number", list: "JSON list", dict: "JSON object"}


def _operation_handler(admin: Admin, op: Operation) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The handler serving ``op``: its parameters from the request, ``{"result": ...}`` from Admin."""
    method = getattr(type(admin), op.name)  # Admin's, or a subclass's (a cluster's)
    shield = not op.resendable  # an edit or a call runs to its end, whoever went away
    encoder = encode_rows if op.name in LISTINGS else encode

    async def handler(request: web.Request) -> web.Response:
        kwargs = _coerce(op, await read_params(request))
        work = method(admin, **kwargs)
        return json_response({"result": await (shielded(work) if shield else work)}, encoder=encoder)

    handler.__name__ = op.name
    handler.__doc__ = op.doc
    return handler


# ================================================================ the event stream
def _maxlen(request: web.Request) -> int:
    raw = request.query.get("maxlen", str(DEFAULT_EVENTS_MAXLEN))
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_EVENTS_MAXLEN:
        raise BadRequest(
            f"'maxlen' must be a whole number from 1 to {MAX_EVENTS_MAXLEN:,} (each connection's "
            f"event buffer), e.g. maxlen=10000; got {raw!r:.40}"
        )
    return n


async def events(request: web.Request) -> web.StreamResponse:
    """The engine's events, over a WebSocket (JSON lists of events) or as server-sent events.

    Each connection has its own bounded buffer (``?maxlen=``, default 10,000): a
    reader that falls behind loses the oldest events and receives an
    ``events.lost`` event saying how many, exactly as in-process.
    """
    maxlen = _maxlen(request)
    if request.headers.get("Upgrade", "").lower() == "websocket":
        return await _events_ws(request, maxlen)
    return await _events_sse(request, maxlen)


async def _events_ws(request: web.Request, maxlen: int) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(heartbeat=20.0)
    sub = request.app[ADMIN].subscribe(maxlen)  # before the client's connect returns: no event after it is missed
    streams = request.app[STREAMS]
    streams.add(sub)
    try:
        await ws.prepare(request)
    except BaseException:
        streams.discard(sub)
        sub.close()
        raise

    async def read_until_closed() -> None:
        try:
            async for msg in ws:
                if msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            sub.close()

    reader = asyncio.ensure_future(read_until_closed())
    try:
        while True:
            try:
                first = await sub.get()
            except EOFError:
                break
            # A slow socket makes send_str wait; meanwhile the buffer drops the oldest events.
            await ws.send_frame(encode([first, *sub.drain()]), WSMsgType.TEXT)
    except (ConnectionError, RuntimeError):
        pass  # the client went away mid-send
    finally:
        streams.discard(sub)
        sub.close()
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await ws.close()
    return ws


async def _events_sse(request: web.Request, maxlen: int) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    sub = request.app[ADMIN].subscribe(maxlen)
    streams = request.app[STREAMS]
    streams.add(sub)
    try:
        await resp.prepare(request)
        await resp.write(b": dotui events\n\n")
        while True:
            try:
                ev = await asyncio.wait_for(sub.get(), SSE_KEEPALIVE_SECONDS)
            except TimeoutError:
                await resp.write(b": keep-alive\n\n")
                continue
            except EOFError:
                break
            await resp.write(b"event: %s\ndata: %s\n\n" % (str(ev["type"]).encode(), encode(ev)))
    except (ConnectionError, RuntimeError):
        pass
    finally:
        streams.discard(sub)
        sub.close()
    return resp


# ================================================================ the application
OBJECT_ROUTES = [
    ("GET", "/openapi.json", "this gateway's OpenAPI description"),
    ("POST", "/objects/{namespace}/{name}/{method}", "call a method of the object named {name}"),
    ("POST", "/objects/{namespace}/id/{hex}/{method}", "call a method of the object with that 64-hex-digit id"),
    ("*", "/fetch/{namespace}/{name}/{path}", "the raw request, to the object's fetch(request)"),
    ("GET", "/ws/{namespace}/{name}/{path}", "a WebSocket to the object's fetch(request) (Hibernation API)"),
    ("GET", "/admin/events", "the event stream (WebSocket, or server-sent events)"),
]


async def index(request: web.Request) -> web.Response:
    routes = [{"method": m, "path": p, "what": w} for m, p, w in OBJECT_ROUTES]
    routes += [{"method": op.verb, "path": op.path, "what": op.doc} for op in OPERATIONS.values()]
    return json_response({"dotui": __version__, "routes": routes})


async def openapi(request: web.Request) -> web.Response:
    return json_response(describe())


async def _end_streams(app: web.Application) -> None:
    """On shutdown, end the event streams (they would otherwise wait for the next event)."""
    streams: set[Any] = app[STREAMS]
    for sub in list(streams):
        sub.close()
    await close_all(app[ADMIN].engine.websockets, app[PEERS])


def make_app(
    engine: Engine, token: str, *, max_body: int | None = None, limits: Limits | None = None, admin: Admin | None = None
) -> web.Application:
    """The gateway for ``engine`` (which must run on the loop that serves the app).

    ``limits``: its bounds (``limits.py``; ``max_body`` overrides that one of them).
    ``admin``: the operations to serve instead of ``Admin(engine)`` (a cluster's, docs/cluster.md).
    """
    if not token:
        raise ValueError("the gateway needs a token; make one with dotui.server.auth.new_token()")
    limits = with_max_body(limits, max_body)
    app = web.Application(client_max_size=limits.max_body, middlewares=[errors_middleware, auth_middleware])
    app[ADMIN] = admin = admin or Admin(engine)
    app[TOKEN] = token
    app[LIMITS] = limits
    app[STREAMS] = set()
    app[PEERS] = WebSocketGateway(limits)
    app.on_shutdown.append(_end_streams)
    r = app.router
    r.add_get("/openapi.json", openapi)
    for path in reversed(CALL_ROUTES):  # /id/{hex} first: it is more specific
        r.add_post(path, object_call)
    r.add_route("*", "/fetch/{namespace}/{name}", fetch)
    r.add_route("*", "/fetch/{namespace}/{name}/{path:.*}", fetch)
    r.add_get("/ws/{namespace}/{name}", websocket)
    r.add_get("/ws/{namespace}/{name}/{path:.*}", websocket)
    r.add_get("/admin/events", events)
    for op in OPERATIONS.values():
        r.add_route(op.verb, op.path, _operation_handler(admin, op))
    r.add_route("*", WORKER_PATHS, worker_route(index))  # last: a wrangler project's Worker, else GET / lists routes
    return app
