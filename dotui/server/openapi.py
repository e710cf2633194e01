"""The gateway's OpenAPI description (``GET /openapi.json``), built from the routes it serves.

The object routes and every admin operation of ``Admin``'s table
(``ops/facade.py``) are described from the same data the gateway routes by,
so the description cannot fall behind the gateway; ``tests/test_server_fuzz.py``
checks that every route is in it and fuzzes each one from it.
"""

from __future__ import annotations

import re
from typing import Any

from .. import __version__
from ..ops import OPERATIONS, Operation, Param

_JSON_KINDS = {
    str: {"type": "string"},
    int: {"type": "integer"},
    list: {"type": "array"},
    dict: {"type": "object"},
    object: {},
}
_ERROR = {"$ref": "#/components/schemas/Error"}
_RESULT = {"type": "object", "properties": {"result": {}}, "required": ["result"]}


def _answers(*, method_raised: bool = False) -> dict[str, Any]:
    out = {
        "200": {"description": "done", "content": {"application/json": {"schema": _RESULT}}},
        "400": {
            "description": "a mistake in the request: what was wrong and what to do",
            "content": {"application/json": {"schema": _ERROR}},
        },
        "401": {
            "description": "no 'Authorization: Bearer <token>'",
            "content": {"application/json": {"schema": _ERROR}},
        },
        "403": {"description": "a wrong token", "content": {"application/json": {"schema": _ERROR}}},
        "404": {
            "description": "no such namespace, method or object",
            "content": {"application/json": {"schema": _ERROR}},
        },
    }
    if method_raised:
        out["500"] = {
            "description": "the object's method raised (its error type and message)",
            "content": {"application/json": {"schema": _ERROR}},
        }
    return out


def _path_params(path: str) -> list[dict[str, Any]]:
    return [
        {"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in re.findall(r"{(\w+)}", path)
    ]


def _param_schema(p: Param) -> dict[str, Any]:
    schema = dict(_JSON_KINDS[p.kind])
    if not p.required and p.default is not None:
        schema["default"] = p.default
    return schema


def _operation(op: Operation) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "operationId": op.name,
        "summary": op.doc,
        "responses": _answers(method_raised=op.name == "call"),
    }
    if op.verb == "GET":
        doc["parameters"] = [
            {
                "name": p.name,
                "in": "query",
                "required": p.required,
                "schema": {"type": "integer"} if p.kind is int else {"type": "string"},
            }
            for p in op.params
        ]
    elif op.params:
        doc["requestBody"] = {
            "required": any(p.required for p in op.params),
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {p.name: _param_schema(p) for p in op.params},
                        "required": [p.name for p in op.params if p.required],
                    }
                }
            },
        }
    return doc


def _object_calls() -> dict[str, Any]:
    body = {
        "required": False,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"args": {"type": "array"}, "kwargs": {"type": "object"}},
                }
            }
        },
    }
    paths = {}
    for path, what in (
        ("/objects/{namespace}/{name}/{method}", "call a method of the object named {name}"),
        ("/objects/{namespace}/id/{hex}/{method}", "call a method of the object with that id"),
    ):
        paths[path] = {
            "post": {
                "operationId": "call_by_id" if "{hex}" in path else "call_by_name",
                "summary": what,
                "parameters": _path_params(path),
                "requestBody": body,
                "responses": _answers(method_raised=True),
            }
        }
    fetch: dict[str, Any] = {
        "summary": "the raw request, handed to the object's fetch(request)",
        "responses": {
            **_answers(method_raised=True),
            "502": {"description": "fetch() answered something that is not a response"},
        },
    }
    for path in ("/fetch/{namespace}/{name}", "/fetch/{namespace}/{name}/{path}"):
        paths[path] = {
            verb: {
                **fetch,
                "operationId": f"fetch_{verb}{'_path' if '{path}' in path else ''}",
                "parameters": _path_params(path),
            }
            for verb in ("get", "post", "put", "delete", "patch")
        }
    return paths


def describe() -> dict[str, Any]:
    """The OpenAPI 3.0 document of this gateway."""
    paths = _object_calls()
    paths["/"] = {"get": {"operationId": "index", "summary": "the version and every route", "responses": _answers()}}
    paths["/openapi.json"] = {"get": {"operationId": "openapi", "summary": "this description", "responses": _answers()}}
    for path in ("/ws/{namespace}/{name}", "/ws/{namespace}/{name}/{path}"):
        paths[path] = {
            "get": {
                "operationId": "websocket" + ("_path" if "{path}" in path else ""),
                "summary": "a WebSocket (Upgrade: websocket) handed to the object's fetch(request) to accept",
                "parameters": _path_params(path),
                "responses": {"101": {"description": "accepted by the object"}, **_answers(method_raised=True)},
            }
        }
    paths["/admin/events"] = {
        "get": {
            "operationId": "events",
            "summary": "the event stream: a WebSocket, or server-sent events",
            "parameters": [
                {"name": "maxlen", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1}}
            ],
            "responses": _answers(),
        }
    }
    for op in OPERATIONS.values():
        paths.setdefault(op.path, {})[op.verb.lower()] = _operation(op)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "dotui gateway",
            "version": __version__,
            "description": "Durable objects over HTTP: call them, read and edit their storage, watch the "
            "engine. See docs/server.md.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "the token in <data>/serve.token"}
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
                        }
                    },
                }
            },
        },
        "paths": paths,
    }
