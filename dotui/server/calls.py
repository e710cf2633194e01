"""The object-call route, written once: its parsing, its checks and its answers.

``POST /objects/{Namespace}/{name}/{method}`` and ``POST /objects/{Namespace}/id/{hex}/{method}``,
body ``{"args": [...], "kwargs": {...}}`` (empty: no arguments), answer ``{"result": ...}`` or an
error (``answer_bytes``). Two paths serve it, both through ``call_target`` and ``answer_call``
below, so they cannot answer differently: ``fast.py`` reads a plain keep-alive request straight
from the socket; ``app.py``'s aiohttp routes serve every other (a chunked or compressed body,
HTTP/1.0, ``Expect``, ...: what ``fast.py`` hands over). Only how the bytes arrive and leave
differs between them.

Also here: the errors of a request itself (``BadRequest``, ``RequestTimeout``) and the one mapping
from an exception to a status and a JSON body, which every route of the gateway answers with.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import unquote

from ..ops.admin import Admin
from ..ops.codec import BadJSON, answer_for, encode, loads, request_error

Target = tuple[str, "str | None", "str | None", str]  # namespace, name or None, id hex or None, method
ROUTES = ("/objects/{namespace}/{name}/{method}", "/objects/{namespace}/id/{hex}/{method}")
PREFIX = "/objects/"


class BadRequest(Exception):
    """A request the gateway cannot read: 400, type ``BadRequest``."""


class RequestTimeout(Exception):
    """A request body that did not arrive within the gateway's --body-timeout: 408, and the connection closes."""


def answer_of(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """The status and JSON body answering a request that raised ``exc``."""
    if isinstance(exc, (BadJSON, BadRequest)):
        return 400, request_error("BadRequest", str(exc))
    if isinstance(exc, RequestTimeout):
        return 408, request_error("RequestTimeout", str(exc))
    return answer_for(exc)


def answer_bytes(exc: BaseException) -> tuple[int, bytes]:
    """The status and the encoded JSON answering a request that raised ``exc``; never raises, even for
    an exception whose message cannot be made (its ``__str__`` raises) or encoded."""
    try:
        status, doc = answer_of(exc)
        return status, encode(doc)
    except Exception:  # noqa: BLE001 - the answer must go out whatever the exception holds
        return 500, encode(
            request_error(
                type(exc).__name__, (f"the call raised {type(exc).__name__}, whose message could not be made into text")
            )
        )


def call_target(path: str) -> Target | None:
    """``(namespace, name, id hex, method)`` (one of name and id set) from a request's path as sent
    (percent-escapes undone segment by segment, after splitting, so ``team%2Fblue`` is one name; the
    query string ignored); None for a path that is no object call. O(len(path))."""
    path = path.partition("?")[0].partition("#")[0]
    if not path.startswith(PREFIX):
        return None
    try:
        parts = [unquote(p, errors="strict") for p in path[len(PREFIX) :].split("/")]
    except (UnicodeDecodeError, ValueError):
        return None
    if not all(parts):
        return None
    if len(parts) == 3:
        return parts[0], parts[1], None, parts[2]
    if len(parts) == 4 and parts[1] == "id":
        return parts[0], None, parts[2], parts[3]
    return None


def parse_call_body(body: bytes) -> tuple[list[Any], dict[str, Any]]:
    """``(args, kwargs)`` from ``{"args": [...], "kwargs": {...}}``; an empty body is no arguments."""
    if not body.strip():
        return [], {}
    doc = loads(body)
    if not isinstance(doc, dict):
        raise BadRequest(
            f'the body must be a JSON object {{"args": [...], "kwargs": {{...}}}}, not a {type(doc).__name__}'
        )
    unknown = sorted(set(doc) - {"args", "kwargs"})
    if unknown:
        raise BadRequest(
            f'unknown field {unknown[0]!r} in the body; it takes only "args" (a list) and "kwargs" (an object)'
        )
    args = doc.get("args") or []
    kwargs = doc.get("kwargs") or {}
    if not isinstance(args, list):
        raise BadRequest(f'"args" must be a JSON list, e.g. {{"args": [5]}}, not a {type(args).__name__}')
    if not isinstance(kwargs, dict):
        raise BadRequest(
            f'"kwargs" must be a JSON object, e.g. {{"kwargs": {{"by": 5}}}}, not a {type(kwargs).__name__}'
        )
    return args, kwargs


async def answer_call(admin: Admin, target: Target, body: bytes) -> tuple[int, bytes]:
    """The whole answer to one object call: its status and its encoded JSON body. The body is read
    (``parse_call_body``), the object named, the call checked and run (``Admin.call_id``: nothing runs
    if the method or the arguments are wrong). Cancellation propagates; every other failure is an
    answer. O(size of the body and of the result), beside the call itself."""
    namespace, name, hx, method = target
    try:
        args, kwargs = parse_call_body(body)
        ids = admin.engine.namespace(namespace)
        oid = ids.id_from_name(name) if name is not None else ids.id_from_string(hx or "")
        return 200, encode({"result": await admin.call_id(namespace, oid, method, args, kwargs)})
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure is an answer
        return answer_bytes(exc)
