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
401 no token, 403 wrong token, 404 unknown namespace, method, id or route, 413
body too large, 503 overloaded (with ``Retry-After``), 500 the method raised.
A call keeps running when its client goes away: the object never stops halfway
through a method because a socket closed.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import os
import types
from typing import Any, Awaitable, Callable

from aiohttp import WSMsgType, web

from .. import __version__
from ..engine import Engine
from ..engine.errors import InvalidIdError, MethodNotFoundError, NamespaceNotFoundError
from ..engine.facade import parse_when
from ..engine.ids import ObjectId
from .auth import check_bearer
from .protocol import (
    RETRY_AFTER_SECONDS,
    BadJSON,
    dumps,
    error_body,
    loads,
    request_error,
    status_for,
)

DEFAULT_MAX_BODY = 1 << 20  # 1 MiB
DEFAULT_EVENTS_MAXLEN = 10_000
SSE_KEEPALIVE_SECONDS = 15.0

ENGINE = web.AppKey("dotui_engine", Engine)
TOKEN = web.AppKey("dotui_token", str)
MAX_BODY = web.AppKey("dotui_max_body", int)
STREAMS = web.AppKey("dotui_event_streams", set)


class ClientFault(Exception):
    """The request was wrong (arguments, a storage key): 400, with the original error's type and message."""

    def __init__(self, original: BaseException):
        super().__init__(str(original))
        self.original = original


class MethodRaised(Exception):
    """The called method itself raised: 500, whatever the type (a 404 type would blame the caller's URL)."""

    def __init__(self, original: BaseException):
        super().__init__(str(original))
        self.original = original


async def run_call(engine: Engine, namespace: str, oid: ObjectId, method: str, args: tuple, kwargs: dict) -> Any:
    """The call, shielded; the target was checked already, so a 404-type error came from inside it."""
    try:
        return await shielded(engine.call(namespace, oid, method, args, kwargs))
    except (NamespaceNotFoundError, MethodNotFoundError, InvalidIdError) as exc:
        raise MethodRaised(exc) from None


class BadRequest(Exception):
    """A request the gateway cannot read: 400, type ``BadRequest``."""


_HTTP_TYPES = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
               405: "MethodNotAllowed", 413: "PayloadTooLarge"}


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=dumps(data), status=status, content_type="application/json", headers=headers)


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
            message = (f"no route {request.method} {request.path}; object calls are "
                       "POST /objects/{Namespace}/{name}/{method} (GET / lists every route)")
        elif exc.status == 405:
            message = f"{request.method} is not allowed on {request.path}; use {exc.headers.get('Allow', 'another method')}"
        elif exc.status == 413:
            limit = request.app[MAX_BODY]
            message = (f"the request body is larger than the gateway's limit of {limit:,} bytes; "
                       "send less, or start the gateway with a larger --max-body")
        return error_response(exc.status, request_error(_HTTP_TYPES.get(exc.status, "HTTPError"), message), headers)
    except BadJSON as exc:
        return error_response(400, request_error("BadRequest", str(exc)))
    except BadRequest as exc:
        return error_response(400, request_error("BadRequest", str(exc)))
    except ClientFault as exc:
        return error_response(400, error_body(exc.original))
    except MethodRaised as exc:
        return error_response(500, error_body(exc.original))
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - the object's error is the answer
        return error_response(status_for(exc), error_body(exc))


@web.middleware
async def auth_middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    status = check_bearer(request.headers.get("Authorization"), request.app[TOKEN])
    if status == 401:
        return json_response(request_error(
            "Unauthorized",
            "this gateway needs 'Authorization: Bearer <token>'; the token is in <data>/serve.token "
            "(written by `dotui serve`)"), 401, {"WWW-Authenticate": 'Bearer realm="dotui"'})
    if status == 403:
        return json_response(request_error(
            "Forbidden",
            "wrong token; use the one in <data>/serve.token of the running `dotui serve` "
            "(a restart makes a new one)"), 403)
    return await handler(request)


# ================================================================ helpers
async def shielded(coro: Awaitable[Any]) -> Any:
    """Await ``coro`` in a task of its own that a client disconnect cannot cancel."""
    task = asyncio.ensure_future(coro)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        task.add_done_callback(_consume)
        raise


def _consume(task: asyncio.Future) -> None:
    if not task.cancelled():
        task.exception()


def parse_call_body(body: bytes) -> tuple[list[Any], dict[str, Any]]:
    """``(args, kwargs)`` from ``{"args": [...], "kwargs": {...}}``; an empty body is no arguments."""
    if not body.strip():
        return [], {}
    doc = loads(body)
    if not isinstance(doc, dict):
        raise BadRequest(f'the body must be a JSON object {{"args": [...], "kwargs": {{...}}}}, '
                         f"not a {type(doc).__name__}")
    unknown = sorted(set(doc) - {"args", "kwargs"})
    if unknown:
        raise BadRequest(f"unknown field {unknown[0]!r} in the body; it takes only \"args\" (a list) "
                         "and \"kwargs\" (an object)")
    args = doc.get("args") or []
    kwargs = doc.get("kwargs") or {}
    if not isinstance(args, list):
        raise BadRequest(f'"args" must be a JSON list, e.g. {{"args": [5]}}, not a {type(args).__name__}')
    if not isinstance(kwargs, dict):
        raise BadRequest(f'"kwargs" must be a JSON object, e.g. {{"kwargs": {{"by": 5}}}}, '
                         f"not a {type(kwargs).__name__}")
    return args, kwargs


_signatures: dict[Any, inspect.Signature | None] = {}


def _call_signature(cls: type, method: str) -> inspect.Signature | None:
    """The signature a caller must fit (without ``self``); None if it cannot be known."""
    fn = getattr(cls, method, None)
    if fn in _signatures:
        return _signatures[fn]
    try:
        sig = inspect.signature(fn)
        if isinstance(inspect.getattr_static(cls, method, None), types.FunctionType):
            sig = sig.replace(parameters=list(sig.parameters.values())[1:])
    except (TypeError, ValueError):
        sig = None
    _signatures[fn] = sig
    return sig


def check_call(engine: Engine, namespace: str, method: str, args: list, kwargs: dict) -> None:
    """404 for a method the class does not offer, 400 for arguments its signature refuses."""
    info = engine._ns_info(namespace)  # noqa: SLF001 - NamespaceNotFoundError (404) if unknown
    if method not in info.methods:
        raise MethodNotFoundError(namespace, method, list(info.methods))
    sig = _call_signature(info.cls, method)
    if sig is None:
        return
    try:
        sig.bind(*args, **kwargs)
    except TypeError as exc:
        raise ClientFault(TypeError(
            f"{namespace}.{method}{info.methods[method].signature} cannot take these arguments: {exc}"
        )) from None


async def read_params(request: web.Request) -> dict[str, Any]:
    """Query parameters, overridden by the fields of a JSON object body."""
    params: dict[str, Any] = dict(request.query)
    body = await request.read()
    if body.strip():
        doc = loads(body)
        if not isinstance(doc, dict):
            raise BadRequest(f"the body must be a JSON object, not a {type(doc).__name__}")
        params.update(doc)
    return params


def need(params: dict[str, Any], name: str, example: str) -> Any:
    if name not in params:
        raise BadRequest(f"missing {name!r}: give it in the query string or the JSON body, e.g. {example}")
    return params[name]


def need_str(params: dict[str, Any], name: str, example: str) -> str:
    value = need(params, name, example)
    if not isinstance(value, str):
        raise BadRequest(f"{name!r} must be a string, e.g. {example}; got {value!r}")
    return value


_TARGET = "?namespace=Counter&ref=alice (or ref=#3f2a for an id prefix)"


def target(engine: Engine, params: dict[str, Any]) -> tuple[str, ObjectId]:
    namespace = need_str(params, "namespace", _TARGET)
    ref = need_str(params, "ref", _TARGET)
    return namespace, engine.object_id(namespace, ref)


# ================================================================ object calls
async def call_by_name(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    mi = request.match_info
    oid = engine.namespace(mi["namespace"]).id_from_name(mi["name"])
    return await _call(request, mi["namespace"], oid, mi["method"])


async def call_by_id(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    mi = request.match_info
    oid = engine.namespace(mi["namespace"]).id_from_string(mi["hex"])
    return await _call(request, mi["namespace"], oid, mi["method"])


async def _call(request: web.Request, namespace: str, oid: ObjectId, method: str) -> web.Response:
    engine = request.app[ENGINE]
    args, kwargs = parse_call_body(await request.read())
    check_call(engine, namespace, method, args, kwargs)
    result = await run_call(engine, namespace, oid, method, tuple(args), kwargs)
    return json_response({"result": result})


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
        return web.Response(text=answer, content_type="text/plain")
    if not isinstance(answer, dict):
        raise BadFetchResponse(f"{namespace}.fetch returned a {type(answer).__name__}; return a str, "
                               "or a dict {\"status\": 200, \"headers\": {...}, \"body\": ...}")
    status = answer.get("status", 200)
    if type(status) is not int or not 200 <= status <= 599:
        raise BadFetchResponse(f"{namespace}.fetch returned status {status!r}; use an int from 200 to 599")
    headers = answer.get("headers") or {}
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise BadFetchResponse(f"{namespace}.fetch returned headers {headers!r}; use a dict of str to str")
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
        data = body.encode()
        content_type = content_type or "text/plain; charset=utf-8"
    else:
        data = dumps(body).encode()
        content_type = content_type or "application/json"
    headers = {k: v for k, v in headers.items() if k.lower() not in ("content-type", "content-length")}
    if content_type:
        headers["Content-Type"] = content_type
    return web.Response(body=data, status=status, headers=headers)


async def fetch(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    mi = request.match_info
    namespace = mi["namespace"]
    oid = engine.namespace(namespace).id_from_name(mi["name"])
    info = engine._ns_info(namespace)  # noqa: SLF001
    if "fetch" not in info.methods:
        raise MethodNotFoundError(namespace, "fetch", list(info.methods))
    req = fetch_request(request, mi.get("path", ""), await request.read())
    answer = await run_call(engine, namespace, oid, "fetch", (req,), {})
    try:
        return fetch_response(namespace, answer)
    except BadFetchResponse as exc:
        return error_response(502, request_error("BadFetchResponse", str(exc)))


# ================================================================ admin: reading
def _admin(fn: Callable[[Engine, dict[str, Any]], Awaitable[Any]]):
    """A handler answering ``{"result": fn(engine, params)}``."""
    async def handler(request: web.Request) -> web.Response:
        params = await read_params(request)
        return json_response({"result": await fn(request.app[ENGINE], params)})
    handler.__name__ = fn.__name__
    handler.__doc__ = fn.__doc__
    return handler


async def info(engine: Engine, p: dict) -> dict[str, Any]:
    return {"version": __version__, "pid": os.getpid(), "data_dir": engine.data_dir,
            "objects_dir": engine.objects_dir, "load_errors": [str(e) for e in engine.load_errors]}


async def namespaces(engine: Engine, p: dict) -> list:
    return engine.namespaces()


def _whole(p: dict, name: str, default: int | None, least: int) -> int | None:
    raw = p.get(name)
    if raw is None or raw == "":
        return default
    try:
        n = int(raw)
    except (TypeError, ValueError):
        n = least - 1
    if n < least:
        raise BadRequest(f"{name!r} must be a whole number >= {least}; got {raw!r}")
    return n


async def instances(engine: Engine, p: dict) -> list:
    namespace = p.get("namespace") or None
    if namespace is not None:
        engine.namespace(namespace)
    paging: dict[str, Any] = {}  # only what was asked for, so an engine without paging still answers
    if p.get("state"):
        paging["state"] = p["state"]
    offset, limit = _whole(p, "offset", 0, 0), _whole(p, "limit", None, 0)
    if offset:
        paging["offset"] = offset
    if limit is not None:
        paging["limit"] = limit
    return engine.instances(namespace, **paging)


async def instances_of(engine: Engine, p: dict) -> list:
    keys = p.get("keys")
    if not isinstance(keys, list) or not all(
            isinstance(k, list) and len(k) == 2 and all(isinstance(x, str) for x in k) for k in keys):
        raise BadRequest('"keys" must be a list of [namespace, id hex] pairs')
    return engine.instances_of(keys)


async def instance_table(engine: Engine, p: dict) -> dict:
    namespace = p.get("namespace") or None
    if namespace is not None:
        engine.namespace(namespace)
    return engine.instance_table(namespace)


async def count_instances(engine: Engine, p: dict) -> dict:
    namespace = p.get("namespace") or None
    if namespace is not None:
        engine.namespace(namespace)
    return engine.count_instances(namespace)


async def instance(engine: Engine, p: dict) -> dict:
    return engine.instance_info(*target(engine, p))


async def resolve(engine: Engine, p: dict) -> dict:
    namespace, oid = target(engine, p)
    return {"namespace": namespace, "id": oid.hex, "name": oid.name}


async def read_storage(engine: Engine, p: dict) -> dict:
    return engine.read_storage(*target(engine, p))


async def queue(engine: Engine, p: dict) -> list:
    return engine.queue(*target(engine, p))


async def history(engine: Engine, p: dict) -> list:
    n = p.get("n", 20)
    try:
        n = int(n)
    except (TypeError, ValueError):
        raise BadRequest(f"'n' must be a whole number, e.g. n=20; got {n!r}") from None
    return engine.history(*target(engine, p), n)


async def stats(engine: Engine, p: dict) -> dict:
    return engine.stats()


# ================================================================ admin: acting
async def call(engine: Engine, p: dict) -> Any:
    namespace, oid = target(engine, p)
    method = need_str(p, "method", '{"method": "increment"}')
    args, kwargs = p.get("args") or [], p.get("kwargs") or {}
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise BadRequest('"args" must be a list and "kwargs" an object, e.g. {"args": [5], "kwargs": {}}')
    check_call(engine, namespace, method, args, kwargs)
    return await run_call(engine, namespace, oid, method, tuple(args), kwargs)


async def _on(engine: Engine, namespace: str, oid: ObjectId, label: str, fn, args: tuple = ()) -> Any:
    """Run a storage edit in the object's own queue; a bad key or value is the caller's fault (400)."""
    try:
        return await shielded(engine.run_on(namespace, oid, label, fn, args))
    except (TypeError, ValueError) as exc:
        raise ClientFault(exc) from None


async def storage_get(engine: Engine, p: dict) -> Any:
    namespace, oid = target(engine, p)
    key = need_str(p, "key", "key=n")
    return await _on(engine, namespace, oid, "storage.get", lambda i: i.storage.get(key), (key,))


async def storage_put(engine: Engine, p: dict) -> None:
    namespace, oid = target(engine, p)
    key = need_str(p, "key", '{"key": "n", "value": 5}')
    value = need(p, "value", '{"key": "n", "value": 5}')
    return await _on(engine, namespace, oid, "storage.put", lambda i: i.storage.put(key, value), (key, value))


async def storage_delete(engine: Engine, p: dict) -> bool:
    namespace, oid = target(engine, p)
    key = need_str(p, "key", "key=n")
    return await _on(engine, namespace, oid, "storage.delete", lambda i: i.storage.delete(key), (key,))


async def alarm_get(engine: Engine, p: dict) -> float | None:
    namespace, oid = target(engine, p)
    return await _on(engine, namespace, oid, "storage.get_alarm", lambda i: i.storage.alarm_epoch)


async def alarm_set(engine: Engine, p: dict) -> float:
    namespace, oid = target(engine, p)
    when = need(p, "when", '{"when": "+30"} or an ISO time or epoch seconds')
    if isinstance(when, str) and not when.strip().startswith("+"):
        try:
            when = float(when)  # epoch seconds in a query string
        except ValueError:
            pass
    try:
        t = parse_when(when)
    except ValueError as exc:
        raise ClientFault(exc) from None

    def set_it(i) -> float:
        i.storage.set_alarm(t)
        return t
    return await _on(engine, namespace, oid, "storage.set_alarm", set_it, (t,))


async def alarm_delete(engine: Engine, p: dict) -> None:
    namespace, oid = target(engine, p)
    return await _on(engine, namespace, oid, "storage.delete_alarm", lambda i: i.storage.delete_alarm())


async def hibernate(engine: Engine, p: dict) -> bool:
    return await shielded(engine.hibernate(*target(engine, p)))


async def hibernate_all(engine: Engine, p: dict) -> int:
    return await shielded(engine.hibernate_all())


async def wake(engine: Engine, p: dict) -> dict:
    namespace, oid = target(engine, p)
    await shielded(engine.wake(namespace, oid))
    return engine.instance_info(namespace, oid)


async def reload(engine: Engine, p: dict) -> list[str]:
    return [str(e) for e in await shielded(engine.reload())]


async def flush(engine: Engine, p: dict) -> None:
    await shielded(engine.flush())


# ================================================================ the event stream
def _maxlen(request: web.Request) -> int:
    raw = request.query.get("maxlen", str(DEFAULT_EVENTS_MAXLEN))
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise BadRequest(f"'maxlen' must be a whole number >= 1, e.g. maxlen=10000; got {raw!r}")
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
    engine = request.app[ENGINE]
    ws = web.WebSocketResponse(heartbeat=20.0)
    sub = engine.subscribe(maxlen)  # before the client's connect returns: no event after it is missed
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
            await ws.send_str(dumps([first, *sub.drain()]))
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
    engine = request.app[ENGINE]
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    sub = engine.subscribe(maxlen)
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
            await resp.write(f"event: {ev['type']}\ndata: {dumps(ev)}\n\n".encode())
    except (ConnectionError, RuntimeError):
        pass
    finally:
        streams.discard(sub)
        sub.close()
    return resp


# ================================================================ the application
ADMIN_ROUTES: list[tuple[str, str, Callable, str]] = [
    ("GET", "/admin/info", info, "version, pid, data and objects folders, load errors"),
    ("GET", "/admin/namespaces", namespaces, "the classes: methods with signatures and docs, mode, alarm"),
    ("GET", "/admin/instances", instances,
     "known objects, live or hibernated [namespace, state, offset, limit]"),
    ("POST", "/admin/instances/of", instances_of, "the objects with these [namespace, id hex] keys [keys]"),
    ("GET", "/admin/instances/count", count_instances, "how many objects: total, live, hibernated [namespace]"),
    ("GET", "/admin/instances/table", instance_table,
     "every object at once: those in memory, and the hibernated ones as one list per field [namespace]"),
    ("GET", "/admin/instance", instance, "one object's state [namespace, ref]"),
    ("GET", "/admin/resolve", resolve, "a reference's namespace, id and name [namespace, ref]"),
    ("GET", "/admin/storage", read_storage, "durable storage as on disk; wakes nothing [namespace, ref]"),
    ("GET", "/admin/queue", queue, "running and queued calls [namespace, ref]"),
    ("GET", "/admin/history", history, "finished calls [namespace, ref, n]"),
    ("GET", "/admin/stats", stats, "engine counters"),
    ("POST", "/admin/call", call, "call a method [namespace, ref, method, args, kwargs]"),
    ("GET", "/admin/storage/key", storage_get, "one key, through the object's queue [namespace, ref, key]"),
    ("PUT", "/admin/storage/key", storage_put, "write a key, through the object's queue [namespace, ref, key, value]"),
    ("DELETE", "/admin/storage/key", storage_delete, "delete a key, through the object's queue [namespace, ref, key]"),
    ("GET", "/admin/alarm", alarm_get, "the alarm, epoch seconds or null [namespace, ref]"),
    ("PUT", "/admin/alarm", alarm_set, "set the alarm [namespace, ref, when: epoch, +SECONDS or ISO time]"),
    ("DELETE", "/admin/alarm", alarm_delete, "delete the alarm [namespace, ref]"),
    ("POST", "/admin/hibernate", hibernate, "hibernate one object once its calls end [namespace, ref]"),
    ("POST", "/admin/hibernate-all", hibernate_all, "hibernate every idle object"),
    ("POST", "/admin/wake", wake, "wake one object [namespace, ref]"),
    ("POST", "/admin/reload", reload, "re-import the objects folder; answers the load errors"),
    ("POST", "/admin/flush", flush, "return once every write so far is durable"),
]

OBJECT_ROUTES = [
    ("POST", "/objects/{namespace}/{name}/{method}", "call a method of the object named {name}"),
    ("POST", "/objects/{namespace}/id/{hex}/{method}", "call a method of the object with that 64-hex-digit id"),
    ("*", "/fetch/{namespace}/{name}/{path}", "the raw request, to the object's fetch(request)"),
    ("GET", "/admin/events", "the event stream (WebSocket, or server-sent events)"),
]


async def index(request: web.Request) -> web.Response:
    routes = [{"method": m, "path": p, "what": w} for m, p, w in OBJECT_ROUTES]
    routes += [{"method": m, "path": p, "what": w} for m, p, _, w in ADMIN_ROUTES]
    return json_response({"dotui": __version__, "routes": routes})


async def _end_streams(app: web.Application) -> None:
    """On shutdown, end the event streams (they would otherwise wait for the next event)."""
    for sub in list(app[STREAMS]):
        sub.close()


def make_app(engine: Engine, token: str, *, max_body: int = DEFAULT_MAX_BODY) -> web.Application:
    """The gateway for ``engine`` (which must run on the loop that serves the app)."""
    if not token:
        raise ValueError("the gateway needs a token; make one with dotui.server.auth.new_token()")
    app = web.Application(client_max_size=max_body, middlewares=[errors_middleware, auth_middleware])
    app[ENGINE] = engine
    app[TOKEN] = token
    app[MAX_BODY] = max_body
    app[STREAMS] = set()
    app.on_shutdown.append(_end_streams)
    r = app.router
    r.add_get("/", index)
    r.add_post("/objects/{namespace}/id/{hex}/{method}", call_by_id)
    r.add_post("/objects/{namespace}/{name}/{method}", call_by_name)
    r.add_route("*", "/fetch/{namespace}/{name}", fetch)
    r.add_route("*", "/fetch/{namespace}/{name}/{path:.*}", fetch)
    r.add_get("/admin/events", events)
    for verb, path, fn, _ in ADMIN_ROUTES:
        r.add_route(verb, path, _admin(fn))
    return app
