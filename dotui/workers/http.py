"""``Request``, ``Response`` and ``Headers`` as Python Workers code sees them, for CPython.

They follow the Python Workers SDK (``workers-runtime-sdk``: ``request.py``, ``response.py``): a
request's ``method`` is an ``http.HTTPMethod``, its ``headers`` an ``http.client.HTTPMessage`` that is
also a mapping (case-insensitive ``get``, ``in``, ``[]``); bodies are read with ``await text()``,
``await json()``, ``await bytes()``; ``Response(body, status=, headers=, web_socket=)``,
``Response.json(data)`` (also ``Response.from_json``) and ``Response.redirect(url)``. A text body
is ``text/plain;charset=UTF-8`` and JSON ``application/json``, as workerd labels them.

Underneath, a request or a response is the gateway's plain dict (docs/server.md, "fetch"):
``to_native``/``from_native`` convert, so a ``fetch`` written for Python Workers answers
``/fetch/...`` and the Worker entrypoint alike. O(size of the body) per conversion.
"""

from __future__ import annotations

import base64
import builtins
import http.client
import json as _json
from collections.abc import Mapping
from http import HTTPMethod, HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

TEXT = "text/plain;charset=UTF-8"
# request.cf of a client's request: no edge here, so each property says so (as wrangler dev gives placeholders)
LOCAL_CF = {
    "colo": "local",
    "city": "local",
    "country": "local",
    "region": "local",
    "timezone": "UTC",
    "asn": 0,
    "httpProtocol": "HTTP/1.1",
}
JSON = "application/json"


class Headers(http.client.HTTPMessage, Mapping):  # type: ignore[misc]
    """Headers, case-insensitive: ``headers.get("Upgrade")``, ``"x" in headers``, ``headers["x"]``.

    ``Headers({"a": "b"})`` or ``Headers([("a", "b"), ...])`` builds one (workerd's ``new Headers(...)``).
    """

    def __init__(self, init: Any = None):
        super().__init__()
        if init is None:
            return
        items = init.items() if isinstance(init, Mapping) else init
        for k, v in items:
            self.add_header(str(k), str(v))

    def __iter__(self):
        return iter(self.keys())

    def set(self, name: str, value: str) -> None:
        del self[name]
        self[name] = value

    def append(self, name: str, value: str) -> None:
        self.add_header(name, value)

    def has(self, name: str) -> bool:
        return name in self

    def plain(self) -> dict[str, str]:
        """One value per name (repeated ones joined with ", ", as workerd's Headers does), for the gateway."""
        out: dict[str, str] = {}
        for k, v in self.items():
            out[k] = f"{out[k]}, {v}" if k in out else v
        return out


def headers_of(value: Any) -> Headers:
    if isinstance(value, Headers):
        return value
    if value is None:
        return Headers()
    if isinstance(value, (Mapping, list, tuple)):
        return Headers(value)
    raise TypeError("Received unexpected type for headers argument")  # the SDK's words


def _body_bytes(body: Any) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, str):
        return body.encode()
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    raise TypeError(f"Unsupported type in Response: {type(body).__name__}")  # the SDK's words


class _Body:
    """A body read once, as on workerd: a second read is ``OSError("Body already used")``."""

    _body: bytes | None
    _used: bool

    def _take(self) -> bytes:
        if self._used:
            raise OSError("Body already used")
        self._used = True
        return self._body or b""

    @property
    def body_used(self) -> bool:
        return self._used

    async def text(self) -> str:
        return self._take().decode("utf-8", "replace")

    async def json(self, **kwargs: Any) -> Any:
        return _json.loads(await self.text(), **kwargs)

    async def bytes(self) -> bytes:
        return self._take()

    async def buffer(self) -> builtins.bytes:  # builtins: bytes() is a method of this class
        return self._take()


class Request(_Body):
    """``Request(url_or_request, method="GET", headers=..., body=...)``, or what ``fetch(request)`` receives."""

    url: str
    _method: str
    websocket: Any  # the socket of an upgrade request, as the gateway hands it (native), or None
    upgrade: Any  # the gateway's opener for an upgrade the Worker forwards, or None
    _cf: Any

    def __init__(
        self,
        input: Request | str,
        *,
        method: HTTPMethod | str | None = None,
        headers: Any = None,
        body: Any = None,
        cf: Any = None,
        **_options: Any,
    ):
        if isinstance(input, Request):
            self.url = input.url
            self._method = input._method
            self._headers = Headers(input.headers.items())
            self._body, self._used = input._body, False
            self.websocket = input.websocket
            self.upgrade = input.upgrade
            self._cf = input._cf
        elif isinstance(input, str):
            self.url, self._method, self._headers = input, "GET", Headers()
            self._body, self._used = None, False
            self.websocket = None  # the socket of an upgrade request, as the gateway hands it (native)
            self.upgrade = None  # the gateway's opener for an upgrade the Worker forwards (server/worker.py)
            self._cf = None
        else:
            raise TypeError(f"Request() takes a URL or a Request, not {type(input).__name__}")
        if method is not None:
            self._method = (method.value if isinstance(method, HTTPMethod) else str(method)).upper()
        if headers is not None:
            self._headers = headers_of(headers)
        if body is not None:
            self._body = _body_bytes(body)
        if cf is not None:
            self._cf = cf

    def __repr__(self) -> str:
        return f"Request(method={self._method!r}, url={self.url!r})"

    @property
    def method(self) -> HTTPMethod:
        return HTTPMethod[self._method]

    @property
    def headers(self) -> Headers:
        return self._headers

    @property
    def cf(self) -> Any:
        """Cloudflare's edge properties of a request from a client (``request.cf.city``): on one machine,
        ``LOCAL_CF``'s placeholders; None for a request made in code, as on Cloudflare."""
        return self._cf

    @property
    def js_object(self) -> Request:
        return self  # code that hands request.js_object to fetch() gets the request itself

    def clone(self) -> Request:
        if self._used:
            raise OSError("Body already used")
        return Request(self)

    # ------------------------------------------------------------ the gateway's dict
    def to_native(self) -> dict[str, Any]:
        """The request as the gateway hands one to an object's ``fetch`` (docs/server.md)."""
        parts = urlsplit(self.url)
        body = self._body or b""
        try:
            text, b64 = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text, b64 = base64.b64encode(body).decode("ascii"), True
        out = {
            "method": self._method,
            "url": self.url,
            "path": parts.path or "/",
            "query": dict(parse_qsl(parts.query, keep_blank_values=True)),
            "headers": self._headers.plain(),
            "body": text,
            "body_base64": b64,
        }
        if self._cf is not None:
            out["cf"] = dict(self._cf)
        return out

    @classmethod
    def from_native(cls, request: Any) -> Request:
        """The ``Request`` of the gateway's dict (or a URL string, or a ``Request`` already)."""
        if isinstance(request, Request):
            return request
        if isinstance(request, str):
            return cls(request)
        if not isinstance(request, dict):
            raise TypeError(f"fetch() takes a Request or a URL, not {type(request).__name__}")
        body = request.get("body") or ""
        data = base64.b64decode(body) if request.get("body_base64") else body.encode()
        req = cls(
            str(request.get("url") or "http://localhost/"),
            method=str(request.get("method") or "GET"),
            headers=request.get("headers") or {},
            body=data or None,
        )
        req.websocket = request.get("websocket")
        cf = request.get("cf")
        if isinstance(cf, dict):
            from .rpc import JsDict

            req._cf = JsDict(cf)
        return req


class Response(_Body):
    """``Response(body=None, status=200, status_text="", headers=None, web_socket=None)``."""

    def __init__(
        self,
        body: Any = None,
        status: HTTPStatus | int | None = None,
        status_text: str = "",
        headers: Any = None,
        web_socket: Any = None,
    ):
        if body is not None and not isinstance(body, (str, bytes, bytearray, memoryview)):
            raise TypeError(f"Unsupported type in Response: {type(body).__name__}")
        self.status = int(status) if status else 200
        if not (self.status == 101 or 200 <= self.status <= 599):
            raise ValueError(
                f"Responses may only be constructed with status codes in the range 200 to 599, "
                f"inclusive; got {self.status}"
            )  # workerd's RangeError, as the SDK maps it
        self.status_text = status_text
        self._headers = headers_of(headers)
        if isinstance(body, str) and "content-type" not in self._headers:
            self._headers["Content-Type"] = TEXT
        self._body, self._used = _body_bytes(body), False
        self.web_socket = web_socket
        self.url = ""

    def __repr__(self) -> str:
        parts = [f"status={self.status}"]
        if "content-type" in self._headers:
            parts.append(f"content_type={self._headers['content-type']!r}")
        return f"Response({', '.join(parts)})"

    @property
    def headers(self) -> Headers:
        return self._headers

    @property
    def ok(self) -> bool:
        return 200 <= self.status <= 299

    @property
    def js_object(self) -> Response:
        return self

    @staticmethod
    def from_json(
        data: Any, status: HTTPStatus | int = HTTPStatus.OK, status_text: str = "", headers: Any = None
    ) -> Response:
        h = headers_of(headers)
        if "content-type" not in h:
            h["Content-Type"] = JSON
        return Response(_json.dumps(data), status=status, status_text=status_text, headers=h)

    def json(self, *args: Any, **kwargs: Any) -> Any:
        """``await response.json()``; called on the class, ``Response.json(data)`` is ``from_json`` (as the SDK)."""
        if isinstance(self, Response):
            return _Body.json(self, *args, **kwargs)
        return Response.from_json(self, *args, **kwargs)

    @staticmethod
    def redirect(url: str, status: HTTPStatus | int = HTTPStatus.FOUND) -> Response:
        code = int(status)
        if code not in (301, 302, 303, 307, 308):
            raise ValueError(f"Invalid status code {code}: a redirect is 301, 302, 303, 307 or 308")
        return Response(None, status=code, headers={"Location": url})

    def clone(self) -> Response:
        if self._used:
            raise OSError("Body already used")
        out = Response(None, self.status, self.status_text, Headers(self._headers.items()), self.web_socket)
        out._body = self._body
        return out

    # ------------------------------------------------------------ the gateway's dict
    def to_native(self) -> dict[str, Any]:
        """The answer as the gateway frames one (docs/server.md, "fetch"): status, headers, body."""
        body = self._body or b""
        try:
            text, b64 = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text, b64 = base64.b64encode(body).decode("ascii"), True
        out: dict[str, Any] = {"status": self.status, "headers": self._headers.plain()}
        if body:
            out["body"], out["body_base64"] = (
                (text, b64)
                if b64 or "content-type" in self._headers
                else (base64.b64encode(body).decode("ascii"), True)
            )
        return out

    @classmethod
    def from_native(cls, answer: Any) -> Response:
        """The ``Response`` of what an object's ``fetch`` answered (a ``Response``, a str, or the gateway's dict)."""
        if isinstance(answer, Response):
            return answer
        if answer is None:
            return cls(None, status=204)
        if isinstance(answer, str):
            return cls(answer)
        if not isinstance(answer, dict):
            raise TypeError(f"fetch returned a {type(answer).__name__}; return a Response")
        body = answer.get("body")
        if body is not None and not isinstance(body, str):
            body, ctype = _json.dumps(body), JSON
        else:
            ctype = None
        data = base64.b64decode(body) if isinstance(body, str) and answer.get("body_base64") else body
        headers = headers_of(answer.get("headers") or {})
        if ctype and "content-type" not in headers:
            headers["Content-Type"] = ctype
        resp = cls(None, status=int(answer.get("status") or 200), headers=headers)
        resp._body = _body_bytes(data)
        return resp


# ------------------------------------------------------------ what workers.fetch sends and receives (fetch.py)
def outgoing(request: Request) -> tuple[str, bytes | None]:
    """The method and body ``fetch(request)`` sends: the body is taken (read once, as on workerd), None if none."""
    return request._method, request._take() if request._body else None


def received(status: int, headers: Any, data: bytes, url: str) -> Response:
    """The ``Response`` ``fetch`` answers with: what the gateway answered, from ``url``."""
    out = Response(None, status=status, headers=headers)
    out._body = data
    out.url = url
    return out
