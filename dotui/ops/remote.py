"""The remote facade: ``EngineFacade``'s operations, spoken over HTTP to ``dotui serve``.

``RemoteEngine(url, token).start()`` offers exactly the methods of
``EngineFacade`` (``ops/facade.py``), synchronous and callable from any thread,
with the same arguments and the same JSON-compatible answers, so the REPL,
scripts and the TUI work unchanged against an engine in another process. Its
operations are generated from the table: ``send`` carries each to its verb and
path. Written here: the event stream (``RemoteSubscription``), WebSocket sessions
(``wsclient.py``), the checks a value gets before it leaves (``PREPARE``).

- An exception raised in the engine comes back as the same engine error class
  (``MethodNotFoundError``, ``OverloadedError``, ...); one raised by an object's
  method as a ``RemoteError`` subclass named after the original type (and
  deriving from the builtin of that name, so ``except ValueError`` works).
- A gateway that cannot be reached is a ``ServerUnreachableError`` (a
  ``ConnectionError``) saying so. Reads are retried a few times with backoff;
  a call or an edit is retried only when the connection failed before the
  request was sent, never once it may have reached the object.
- A refused token is a ``GatewayAuthError`` (a ``PermissionError``).
- An answer the client cannot take is a ``BadAnswerError`` (a ``ConnectionError``) naming the
  gateway, the request and what was wrong: larger than ``max_answer`` (``ANSWER_LIMIT``, 64 MiB;
  ``max_listing``, 512 MiB, for the listings of every object), a redirect (never followed: the
  token and the body would go with it), not JSON, nested deeper than any value the engine
  answers, or not the shape of a dotui answer. An error's ``details`` set only the fields its
  class declares, of their types (``codec.rebuild``). See docs/trust.md.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from ..engine import values
from ..engine.errors import EngineClosedError
from ..engine.events import EventBuffer
from .admin import parse_when
from .codec import BadJSON, dumps, loads, rebuild
from .facade import EngineFacade, load_errors_of
from .table import LISTINGS, Operation
from .waiting import Waiting
from .wsclient import RemoteWebSocket

DEFAULT_RETRIES = 4  # attempts for a read: after 0.2 s, 0.5 s, 1.25 s
FIRST_BACKOFF = 0.2
CONNECT_TIMEOUT = 5.0
ANSWER_LIMIT = 64 << 20  # bytes of one answer, decompressed (docs/trust.md)
LISTING_LIMIT = 512 << 20  # one listing of every object: ~250 bytes an object, so ~2M objects
EVENTS_MESSAGE_LIMIT = 64 << 20  # one message of the event stream: a batch of up to maxlen events
ANSWER_DEPTH = values.MAX_CALL_DEPTH + 8  # a result, wrapped in a history row wrapped in an answer


class ServerUnreachableError(ConnectionError):
    """``dotui serve`` cannot be reached: not running, a wrong URL, or the connection was lost."""


class BadAnswerError(ConnectionError):
    """The gateway's answer cannot be taken: over the size cap, a redirect, not JSON, or not the shape it must be."""


class GatewayAuthError(PermissionError):
    """``dotui serve`` refused the token (401: none was sent, 403: a wrong one)."""


def normalize_url(url: str) -> str:
    """``http://host:port`` from a URL, ``host:port`` or a bare port (loopback)."""
    text = url.strip().rstrip("/")
    if text.isdigit():
        return f"http://127.0.0.1:{text}"
    if "://" not in text:
        text = "http://" + text
    if not text.startswith(("http://", "https://")):
        raise ValueError(f"cannot connect to {url!r}: give an http:// URL, e.g. http://127.0.0.1:8787")
    return text


class RemoteSubscription(EventBuffer):
    """The engine's events, read from ``/admin/events`` by the client's background thread.

    Same reading API as ``dotui.engine.events.Subscription``: ``drain()``,
    ``get_nowait()``, ``close()``. Bounded and lossy the same way: when the
    buffer is full the oldest event goes, and the next read starts with an
    ``events.lost`` event counting what was lost here and at the gateway. A lost
    connection is reported as a ``connection.lost`` event and retried until
    ``close()``; ``connection.restored`` says the stream is back (events between
    the two are gone).
    """

    def __init__(self, remote: RemoteEngine, maxlen: int, predicate: Callable[[dict], bool] | None = None):
        super().__init__(maxlen, predicate)
        self._remote = remote
        self.closed = False
        self._first: concurrent.futures.Future = concurrent.futures.Future()
        self._task: asyncio.Task | None = None

    # ------------------------------------------------------------ reading (any thread)
    def push(self, event: dict) -> None:
        if event.get("type") == "events.lost":  # lost at the gateway: counted with ours
            self.count_lost(event.get("count", 0))
            return
        super().push(event)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        task = self._task
        if task is not None:
            self._remote._loop.call_soon_threadsafe(task.cancel)
        self._remote._forget(self)

    # ------------------------------------------------------------ the reader (client loop)
    def _start(self) -> None:
        self._task = self._remote._loop.create_task(self._read())

    async def _read(self) -> None:
        remote = self._remote
        delay = FIRST_BACKOFF
        connected_once = False
        outage = False
        while not self.closed:
            session = remote._session
            if session is None:  # the client closed: nothing more to read
                return
            try:
                async with session.ws_connect(
                    remote.url + "/admin/events",
                    params={"maxlen": str(self.maxlen)},
                    heartbeat=20.0,
                    headers=remote._auth_header(),
                    max_msg_size=EVENTS_MESSAGE_LIMIT,
                ) as ws:
                    if not connected_once:
                        connected_once = True
                        self._first.set_result(None)
                    elif outage:
                        self.push({"type": "connection.restored", "t": time.time(), "url": remote.url})
                    outage = False
                    delay = FIRST_BACKOFF
                    async for msg in ws:
                        if msg.type == aiohttp.WSMsgType.TEXT:
                            for ev in remote._events_of(msg.data):
                                self.push(ev)
                        elif msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                            break
                    reason = "the gateway closed the event stream (it is stopping?)"
            except asyncio.CancelledError:
                raise
            except aiohttp.WSServerHandshakeError as exc:
                if exc.status in (401, 403) and remote._reload_token():
                    continue
                err: BaseException = (
                    remote._auth_error(exc.status, exc.message)
                    if exc.status in (401, 403)
                    else ServerUnreachableError(
                        f"dotui serve at {remote.url} refused the event stream ({exc.status} {exc.message})"
                    )
                )
                if not connected_once:
                    self._first.set_exception(err)
                    return
                reason = str(err)
            except BadAnswerError as exc:  # a redirect, or a message that is not a list of events
                if not connected_once:
                    self._first.set_exception(exc)
                    return
                reason = str(exc)
            except (aiohttp.ClientError, OSError) as exc:
                if not connected_once:
                    self._first.set_exception(remote._unreachable(exc))
                    return
                reason = f"{type(exc).__name__}: {exc}"
            if self.closed:
                return
            if not outage:
                outage = True
                self.push(
                    {
                        "type": "connection.lost",
                        "t": time.time(),
                        "url": remote.url,
                        "error": f"event stream from dotui serve at {remote.url} lost ({reason}); reconnecting",
                    }
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


class RemoteEngine(EngineFacade):
    """An engine in another process, behind ``dotui serve``, driven synchronously.

    ``close()`` ends this client only; the gateway and its engine go on.
    """

    remote = True
    url: str  # the gateway's, always

    def __init__(
        self,
        url: str,
        token: str,
        *,
        retries: int = DEFAULT_RETRIES,
        token_loader: Callable[[], str] | None = None,
        max_answer: int = ANSWER_LIMIT,
        max_listing: int = LISTING_LIMIT,
    ):
        """``max_answer`` caps the bytes of one answer, ``max_listing`` those of a listing of every
        object (``LISTINGS``); a larger answer is a ``BadAnswerError`` naming the cap."""
        self.url = normalize_url(url)
        self.max_answer = max_answer
        self.max_listing = max(max_listing, max_answer)
        self.token = token
        # Where the token came from (e.g. <data>/serve.token): re-read once when the gateway
        # refuses it, so a client outlives a restart of `dotui serve` (which makes a new token).
        self._token_loader = token_loader
        self.retries = max(1, retries)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="dotui-remote", daemon=True)
        self._session: aiohttp.ClientSession | None = None
        self._info: dict[str, Any] = {}
        self._subs: list[RemoteSubscription] = []
        self._started = False
        self._closed = False  # its loop has stopped: nothing sent any more is ever answered
        self._waiting = Waiting()  # sent, not yet answered

    # ------------------------------------------------------------ running
    def start(self) -> RemoteEngine:
        """Connect: check that the gateway answers and accepts the token."""
        if self._started:
            return self
        if not self._thread.is_alive():
            self._thread.start()
        if self._session is None:
            self._session = self._run(self._open_session())
        try:
            self._info = self._checked_info(self.info())
        except BaseException:
            self._shutdown()
            raise
        self._started = True
        return self

    async def _open_session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT),
            trace_configs=[self._refusing_redirects()],
        )

    def _refusing_redirects(self) -> aiohttp.TraceConfig:
        """A redirect, on any request or WebSocket of the session, fails it with BadAnswerError before
        anything is sent to where it points: the gateway never redirects, and the token and the body
        would go with the request."""
        trace = aiohttp.TraceConfig()

        async def refuse(session: Any, context: Any, params: aiohttp.TraceRequestRedirectParams) -> None:
            where = params.response.headers.get("Location", "")
            raise BadAnswerError(
                f"dotui serve at {self.url} answered {params.method} {params.url.path} with a redirect "
                f"({params.response.status} to {where[:200]!r}); dotui never follows one (the token and the "
                "body would go there): --connect the gateway's own address"
            )

        trace.on_request_redirect.append(refuse)
        return trace

    def close(self) -> None:
        """Stop this client (its event streams too). The gateway keeps running."""
        self._started = False
        for sub in list(self._subs):
            sub.close()
        self._shutdown()

    def _shutdown(self) -> None:
        if not self._thread.is_alive():
            self._fail_waiting()
            return
        if self._session is not None:
            try:
                self._run(self._session.close(), timeout=5)
            except Exception:  # noqa: BLE001 - closing; nothing left to tell
                pass
            self._session = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._fail_waiting()

    def _fail_waiting(self) -> None:
        """The client's loop has stopped: every operation still waiting fails now, as none will be
        answered (a thread blocked on one, such as a TUI worker, would wait for good). O(waiting)."""

        def mark() -> None:
            self._closed = True

        self._waiting.end(
            EngineClosedError(f"the connection to {self.url} was closed; connect again to make more calls"), mark
        )

    def _submit(self, coro) -> concurrent.futures.Future:
        """Run ``coro`` on the client's loop; its answer as a future that fails with
        ``EngineClosedError`` if the client is closed first. O(1)."""
        return self._waiting.send(coro, self._loop, self._refusal)

    def _refusal(self) -> EngineClosedError | None:
        if self._closed:
            return EngineClosedError(f"the connection to {self.url} is closed; connect again to make more calls")
        return None

    def __enter__(self) -> RemoteEngine:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _run(self, coro, timeout: float | None = None) -> Any:
        return self._submit(coro).result(timeout)

    # ------------------------------------------------------------ HTTP
    def _unreachable(self, exc: BaseException, tries: int = 1) -> ServerUnreachableError:
        reason = getattr(exc, "os_error", None) or exc
        tried = f" (tried {tries} times)" if tries > 1 else ""
        return ServerUnreachableError(
            f"cannot reach dotui serve at {self.url}: {reason}{tried}; is it running? "
            f"Start it with `dotui serve` (or `dotui --serve PORT`), or check --connect URL"
        )

    def _auth_error(self, status: int, message: str) -> GatewayAuthError:
        what = "sent no token" if status == 401 else "sent a token it does not accept"
        return GatewayAuthError(
            f"dotui serve at {self.url} refused this client ({status}: {what}); pass the token from the "
            f"gateway's <data>/serve.token with --token or DOTUI_TOKEN, or --data pointing at its data folder "
            f"(a restarted gateway makes a new token)"
        )

    def _auth_header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def _reload_token(self) -> bool:
        """True if the token's source now holds another token (the gateway was restarted)."""
        if self._token_loader is None:
            return False
        try:
            token = self._token_loader()
        except Exception:  # noqa: BLE001 - keep the old one; the refusal is reported
            return False
        if token == self.token:
            return False
        self.token = token
        return True

    def _bad_answer(self, what: str, verb: str, path: str, status: int | str = "") -> BadAnswerError:
        status = f" ({status})" if status else ""
        return BadAnswerError(
            f"dotui serve at {self.url} answered {verb} {path}{status} with {what}; is that address a dotui gateway?"
        )

    def _decode(self, raw: bytes | str, verb: str, path: str, status: int | str = "") -> Any:
        """The JSON of an answer, nested at most ANSWER_DEPTH deep; BadAnswerError if it is not. O(size)."""
        try:
            doc = loads(raw)
        except BadJSON as exc:
            raise self._bad_answer(f"a body that is not JSON ({str(exc)[:200]})", verb, path, status) from None
        if not values.fits(doc, ANSWER_DEPTH):
            raise self._bad_answer(
                f"JSON nested more than {ANSWER_DEPTH} deep (no answer of the engine is)", verb, path, status
            )
        return doc

    def _answer(self, status: int, raw: bytes, verb: str, path: str) -> Any:
        if status in (401, 403):
            try:
                err = self._decode(raw, verb, path, status).get("error")
            except (BadAnswerError, AttributeError):
                err = None
            raise self._auth_error(status, str(err.get("message", "")) if isinstance(err, dict) else "")
        doc = self._decode(raw, verb, path, status)
        if status == 200 and isinstance(doc, dict) and "result" in doc:
            return doc["result"]
        err = doc.get("error") if isinstance(doc, dict) else None
        if isinstance(err, dict) and isinstance(err.get("type"), str) and err["type"]:
            raise rebuild(err)
        raise self._bad_answer(f"{raw[:200]!r}, neither a result nor an error", verb, path, status)

    async def _read_answer(self, resp: aiohttp.ClientResponse, limit: int, verb: str, path: str) -> bytes:
        """The body of ``resp``, decompressed, if it is at most ``limit`` bytes; BadAnswerError naming the
        cap once it is past it (read no further: the connection is closed). O(size)."""
        declared = resp.content_length
        if declared is not None and declared > limit and "Content-Encoding" not in resp.headers:
            resp.close()
            raise self._too_large(f"{declared >> 20} MiB, ", limit, verb, path)
        body = bytearray()
        async for chunk in resp.content.iter_any():
            body += chunk
            if len(body) > limit:
                resp.close()
                raise self._too_large("", limit, verb, path)
        return bytes(body)

    def _too_large(self, size: str, limit: int, verb: str, path: str) -> BadAnswerError:
        which = "max_listing" if limit == self.max_listing and limit != self.max_answer else "max_answer"
        return BadAnswerError(
            f"dotui serve at {self.url} answered {verb} {path} with {size}more than the cap of {_mib(limit)} "
            f"on one answer (RemoteEngine's {which}; docs/trust.md); ask for less (ls --page, a prefix), "
            "or raise the cap"
        )

    def _events_of(self, text: str) -> list[dict]:
        """One message of the event stream: a JSON list of events (dicts); BadAnswerError if not."""
        batch = self._decode(text, "GET", "/admin/events")
        if not (isinstance(batch, list) and all(isinstance(ev, dict) for ev in batch)):
            raise self._bad_answer(
                f"an event message that is not a list of events ({text[:200]!r})", "GET", "/admin/events"
            )
        return batch

    def _checked_info(self, info: Any) -> dict[str, Any]:
        """``info``'s answer, which the facade's properties read: a dict with the folders as str."""
        if not (
            isinstance(info, dict)
            and isinstance(info.get("data_dir", ""), str)
            and isinstance(info.get("objects_dir", ""), str)
        ):
            raise self._bad_answer(f"an info that is not the engine's ({str(info)[:200]!r})", "GET", "/admin/info")
        return info

    async def _request(
        self,
        verb: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
        *,
        idempotent: bool,
        limit: int | None = None,
    ) -> Any:
        assert self._session is not None, "start() the RemoteEngine first (or use dotui.server.connect)"
        url = self.url + path
        query = {
            k: dumps(v) if isinstance(v, (list, dict)) else str(v)  # a list or dict: JSON (server/app.py)
            for k, v in (params or {}).items()
            if v is not None
        }
        data = None if body is None else dumps(body).encode()
        content = {"Content-Type": "application/json"} if data is not None else {}
        delay = FIRST_BACKOFF
        last: BaseException | None = None
        reloaded = False
        attempt = 0
        while attempt < self.retries:
            attempt += 1
            try:
                async with self._session.request(
                    verb, url, params=query, data=data, headers={**content, **self._auth_header()}
                ) as resp:
                    raw = await self._read_answer(resp, limit or self.max_answer, verb, path)
                    if resp.status in (401, 403) and not reloaded and self._reload_token():
                        reloaded, attempt = True, attempt - 1  # refused before anything ran: safe to resend
                        continue
                    return self._answer(resp.status, raw, verb, path)
            except aiohttp.ClientConnectorError as exc:
                last = exc  # nothing was sent: trying again cannot run anything twice
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
                if not idempotent:
                    raise ServerUnreachableError(
                        f"lost the connection to dotui serve at {self.url} during {verb} {path} ({exc}); "
                        "it may or may not have been carried out: look (history, storage) before repeating it"
                    ) from None
                last = exc
            if attempt < self.retries:
                await asyncio.sleep(delay)
                delay *= 2.5
        assert last is not None
        raise self._unreachable(last, self.retries) from None

    def send(self, op: Operation, params: dict[str, Any]) -> concurrent.futures.Future:
        """``op`` at its verb and path: a read's parameters in the query, an edit's or a call's in a JSON
        body; a parameter at its default is left out (the gateway has the same default). What ``PREPARE``
        refuses is refused here, before anything is sent, as in-process. O(size of the parameters)."""
        prepare = PREPARE.get(op.name)
        if prepare is not None:
            try:
                params = prepare(params)
            except (TypeError, ValueError) as exc:
                refused: concurrent.futures.Future = concurrent.futures.Future()
                refused.set_exception(exc)
                return refused
        given = {
            p.name: params[p.name]
            for p in op.params
            if p.required or params.get(p.name, p.default) not in (None, p.default)
        }
        limit = self.max_listing if op.name in LISTINGS else self.max_answer
        if op.resendable:
            work = self._request(op.verb, op.path, given, idempotent=True, limit=limit)
        else:
            work = self._request(op.verb, op.path, None, given or None, idempotent=False, limit=limit)
        return self._submit(work)

    # ------------------------------------------------------------ describing
    @property
    def data_dir(self) -> str:
        return self._info.get("data_dir", "")

    @property
    def objects_dir(self) -> str:
        return self._info.get("objects_dir", "")

    def load_errors(self) -> list[str]:
        return load_errors_of(self._checked_info(self.info()))

    def open_websocket(self, namespace: str, ref: str, path: str = "/") -> RemoteWebSocket:
        """A WebSocket to the object's ``fetch`` through the gateway (``wsclient.py``); WebSocketError if refused."""
        assert self._session is not None, "start() the RemoteEngine first (or use dotui.server.connect)"
        sock = RemoteWebSocket(self._run, f"{namespace}/{ref}")
        self._run(sock.open(self._session, self.url, namespace, ref, path, self._auth_header()))
        return sock

    def subscribe(self, maxlen: int = 10_000, predicate: Callable[[dict], bool] | None = None) -> RemoteSubscription:
        """Events, buffered; read with ``drain()`` or ``get_nowait()`` from any thread.

        Returns once the gateway has subscribed: every event after this is seen.
        """
        sub = RemoteSubscription(self, maxlen, predicate)
        self._subs.append(sub)
        self._loop.call_soon_threadsafe(sub._start)
        try:
            sub._first.result(CONNECT_TIMEOUT + 5)
        except BaseException:
            sub.close()
            raise
        return sub

    def _forget(self, sub: RemoteSubscription) -> None:
        try:
            self._subs.remove(sub)
        except ValueError:
            pass


def _key(params: dict[str, Any]) -> dict[str, Any]:
    key = params["key"]
    if not isinstance(key, str):
        raise TypeError(f"storage keys must be str, not {type(key).__name__} ({key!r})")  # as ctx.storage says it
    return params


def _stored(params: dict[str, Any]) -> dict[str, Any]:
    key = _key(params)["key"]
    try:
        value = values.copy(params["value"], f"the value of key {key!r}")
    except values.NotJSONCompatible as exc:
        raise TypeError(f"cannot store key {key!r}: {exc}") from None  # as ctx.storage.put says it
    return {**params, "value": value}


def _alarm(params: dict[str, Any]) -> dict[str, Any]:
    # A bad time is refused here, as in-process; +SECONDS counts from now, here.
    return {**params, "when": parse_when(params["when"])}


def _call(params: dict[str, Any]) -> dict[str, Any]:
    # The same check, and the same TypeError, as an in-process call.
    args, kwargs = values.copy_args(
        tuple(params["args"] or ()), params["kwargs"] or {}, f"{params['namespace']}.{params['method']}"
    )
    return {**params, "args": list(args), "kwargs": kwargs}


# What a value is checked and turned into before it leaves, by operation: what in-process refuses
# with a TypeError or ValueError is refused here the same way, not by the gateway as a RemoteError.
PREPARE: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "storage_get": _key,
    "storage_delete": _key,
    "storage_put": _stored,
    "alarm_set": _alarm,
    "call": _call,
}


def _mib(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 and n % (1 << 20) == 0 else f"{n:,} bytes"
