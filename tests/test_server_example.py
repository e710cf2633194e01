"""The seed example end to end: examples/api_server.py meters its users in ApiUsage objects via the gateway."""

from __future__ import annotations

import datetime as dt
import importlib.util

import pytest
from aiohttp.test_utils import TestClient, TestServer

from dotui.examples import OBJECTS as BUNDLED_OBJECTS
from dotui.server import connect
from server_support import ROOT, GatewayProcess

pytestmark = [pytest.mark.slow]


def _example():
    spec = importlib.util.spec_from_file_location("api_server_example", ROOT / "examples" / "api_server.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def gateway(tmp_path):
    with GatewayProcess(BUNDLED_OBJECTS, tmp_path / "data") as gw:
        yield gw


async def test_each_request_is_counted_in_its_users_object(gateway, tmp_path):
    app = _example().make_app(gateway.url, gateway.token)
    async with TestClient(TestServer(app)) as api:
        for q in ("durable objects", "actors", "tinydb"):
            resp = await api.get("/search", params={"q": q}, headers={"X-User": "alice"})
            assert resp.status == 200
            assert (await resp.json())["query"] == q
        assert resp.headers["X-Usage-Today"] == "3"
        resp = await api.get("/weather", params={"city": "Porto", "user": "alice"})
        assert resp.status == 200 and (await resp.json())["city"] == "Porto"
        await api.get("/search", headers={"X-User": "bob/the builder"})
        resp = await api.get("/search")
        assert resp.status == 401 and "X-User" in (await resp.json())["error"]

        today = dt.datetime.now(dt.UTC).date().isoformat()
        resp = await api.get("/usage", headers={"X-User": "alice"})
        assert await resp.json() == {
            "user": "alice",
            "day": None,
            "by_endpoint": {"/search": 3, "/weather": 1},
            "by_day": {today: 4},
        }
        resp = await api.get("/usage", headers={"X-User": "bob/the builder"})
        assert (await resp.json())["by_endpoint"] == {"/search": 1}
    # One object per user, on the gateway's engine, each with the alarm that drops old days.
    with connect(gateway.url, data=str(tmp_path / "data")) as remote:
        names = sorted(i["name"] for i in remote.instances("ApiUsage"))
        assert names == ["alice", "bob/the builder"]
        assert remote.read_storage("ApiUsage", "alice")["values"] == {
            f"day/{today}//search": 3,
            f"day/{today}//weather": 1,
        }
        assert remote.alarm_get("ApiUsage", "alice") is not None


async def test_the_api_still_answers_when_the_gateway_is_down(gateway):
    app = _example().make_app(gateway.url, gateway.token)
    gateway.stop()
    async with TestClient(TestServer(app)) as api:
        resp = await api.get("/search", params={"q": "x"}, headers={"X-User": "alice"})
        assert resp.status == 200 and resp.headers["X-Usage-Today"] == "unknown"
        resp = await api.get("/usage", headers={"X-User": "alice"})
        assert resp.status == 503 and "gateway is unreachable" in (await resp.json())["error"]
