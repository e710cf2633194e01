"""A small HTTP API that meters its users with durable objects, through the dotui gateway.

    dotui serve                                   # terminal 1: the engine and its gateway (port 8787)
    python examples/api_server.py                 # terminal 2: this API, on port 8080
    curl -H 'X-User: alice' 'http://127.0.0.1:8080/search?q=durable+objects'
    curl -H 'X-User: alice' 'http://127.0.0.1:8080/usage'

Every request names its user (the ``X-User`` header, or ``?user=``). After
serving it, the API records the call in that user's ``ApiUsage`` object
(``dotui/examples/objects/api_usage.py``) with one HTTP call to the gateway:
``POST /objects/ApiUsage/<user>/record {"args": ["/search"]}``. However many
copies of this API run, each user's count lives in exactly one object, so there
is nothing to lock and no database to keep. ``/usage`` reads it back.

The gateway's token is found like ``dotui --connect`` finds it: ``--token``,
``$DOTUI_TOKEN``, or ``<--data>/serve.token`` (default ``.dotui``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from urllib.parse import quote

from aiohttp import ClientError, ClientSession, ClientTimeout, web

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from dotui.server.auth import find_token  # noqa: E402

GATEWAY = web.AppKey("gateway", str)
TOKEN = web.AppKey("token", str)
SESSION = web.AppKey("session", ClientSession)
METERED = {"/search", "/weather"}


class GatewayError(Exception):
    """The gateway answered with an error (its JSON ``error`` is the message)."""


async def call_object(app: web.Application, namespace: str, name: str, method: str, *args) -> object:
    """Call a method of a durable object through the gateway; its result."""
    url = f"{app[GATEWAY]}/objects/{namespace}/{quote(name, safe='')}/{method}"
    async with app[SESSION].post(
        url, json={"args": list(args)}, headers={"Authorization": f"Bearer {app[TOKEN]}"}
    ) as resp:
        body = await resp.json(content_type=None)
        if resp.status != 200:
            err = body.get("error", {}) if isinstance(body, dict) else {}
            raise GatewayError(f"{resp.status} {err.get('type')}: {err.get('message')}")
        return body["result"]


def fail(status: type[web.HTTPException], message: str) -> web.HTTPException:
    return status(text=json.dumps({"error": message}), content_type="application/json")


def user_of(request: web.Request) -> str:
    user = request.headers.get("X-User") or request.query.get("user")
    if not user:
        raise fail(web.HTTPUnauthorized, "say who you are: an X-User header, or ?user=NAME")
    return user


# ---------------------------------------------------------------- metering
@web.middleware
async def meter(request: web.Request, handler):
    """Serve the request, then count it in the caller's ApiUsage object."""
    response = await handler(request)
    if request.path in METERED and response.status < 400:
        user = user_of(request)
        try:
            count = await call_object(request.app, "ApiUsage", user, "record", request.path)
            response.headers["X-Usage-Today"] = str(count)
        except (ClientError, GatewayError, OSError) as exc:
            # Metering is down: serve anyway, and say so (a real API might queue the record).
            print(f"api_server: could not record {user} {request.path}: {exc}", file=sys.stderr)
            response.headers["X-Usage-Today"] = "unknown"
    return response


# ---------------------------------------------------------------- the API
async def search(request: web.Request) -> web.Response:
    user_of(request)
    q = request.query.get("q", "")
    words = q.split() or ["nothing"]
    return web.json_response({"query": q, "results": [f"{w}: result {i + 1}" for i, w in enumerate(words)]})


async def weather(request: web.Request) -> web.Response:
    user_of(request)
    city = request.query.get("city", "Lisbon")
    seed = int(hashlib.sha256(city.encode()).hexdigest(), 16)
    return web.json_response({"city": city, "celsius": seed % 35, "sky": ["sunny", "cloudy", "rain"][seed % 3]})


async def usage(request: web.Request) -> web.Response:
    """This user's counts: today's by endpoint, and every kept day's total."""
    user = user_of(request)
    day = request.query.get("day")
    try:
        today = await call_object(request.app, "ApiUsage", user, "usage", day)
        totals = await call_object(request.app, "ApiUsage", user, "totals")
    except (ClientError, OSError) as exc:
        raise fail(web.HTTPServiceUnavailable, f"the dotui gateway is unreachable: {exc}") from None
    except GatewayError as exc:
        raise fail(web.HTTPBadRequest, str(exc)) from None
    return web.json_response({"user": user, "day": day, "by_endpoint": today, "by_day": totals})


def make_app(gateway: str, token: str) -> web.Application:
    app = web.Application(middlewares=[meter])
    app[GATEWAY] = gateway.rstrip("/")
    app[TOKEN] = token

    async def gateway_session(app: web.Application):
        app[SESSION] = ClientSession(timeout=ClientTimeout(total=10))  # keep-alive to the gateway
        yield
        await app[SESSION].close()

    app.cleanup_ctx.append(gateway_session)
    app.router.add_get("/search", search)
    app.router.add_get("/weather", weather)
    app.router.add_get("/usage", usage)
    return app


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gateway", default="http://127.0.0.1:8787", help="the dotui gateway (default: %(default)s)")
    ap.add_argument("--token", default=None, help="its token (default: $DOTUI_TOKEN or <--data>/serve.token)")
    ap.add_argument("--data", default=".dotui", help="the gateway's data folder, to find its token")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    a = ap.parse_args(argv)
    try:
        token = find_token(a.token, a.data)
    except PermissionError as exc:
        print(f"api_server: {exc}", file=sys.stderr)
        return 1
    print(f"api_server: http://{a.host}:{a.port} (recording usage through {a.gateway})", flush=True)
    web.run_app(make_app(a.gateway, token), host=a.host, port=a.port, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
