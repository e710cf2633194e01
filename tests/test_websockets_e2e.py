"""WebSockets through ``dotui serve`` in a subprocess: a SIGKILL with sockets open loses no
acknowledged write and every client sees its connection drop; a clean stop closes with 1001."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from conftest import write_objects
from dotui.server import connect
from server_support import GatewayProcess
from ws_support import ROOM

ROOMS = 4
PER_ROOM = 5


async def _talk(url: str, token: str, room: str, acked: dict[str, list[int]], ends: list) -> None:
    """Send "count" over and over; record each acknowledged n until the connection drops."""
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(f"{url}/ws/Room/{room}/x", headers={"Authorization": f"Bearer {token}"})
        while True:
            try:
                await ws.send_str("count")
            except (ConnectionError, RuntimeError):
                ends.append("send failed")
                return
            msg = await ws.receive(timeout=30)
            if msg.type is not aiohttp.WSMsgType.TEXT:
                ends.append(msg.type.name)
                return
            acked[room].append(json.loads(msg.data)["n"])


@pytest.mark.slow
def test_sigkill_with_sockets_open_loses_no_acknowledged_write(tmp_path):
    objects = write_objects(tmp_path / "objects", room=ROOM)
    data = tmp_path / "data"
    acked: dict[str, list[int]] = {f"room{i}": [] for i in range(ROOMS)}
    ends: list = []
    gw = GatewayProcess(objects, data)
    try:

        async def talk_then_kill() -> None:
            tasks = [
                asyncio.ensure_future(_talk(gw.url, gw.token, room, acked, ends))
                for room in acked
                for _ in range(PER_ROOM)
            ]
            while sum(map(len, acked.values())) < 500 and not all(t.done() for t in tasks):
                await asyncio.sleep(0.005)
            gw.kill()  # SIGKILL: no shutdown code runs
            await asyncio.gather(*tasks)

        asyncio.run(talk_then_kill())
    finally:
        gw.kill()
    assert sum(map(len, acked.values())) >= 500
    assert len(ends) == ROOMS * PER_ROOM  # every client saw its connection drop
    with GatewayProcess(objects, data) as gw2, connect(gw2.url, data=str(data)) as remote:
        for room, ns in acked.items():
            assert len(set(ns)) == len(ns)  # one message, one write: no n acknowledged twice
            assert remote.call("Room", room, "count") >= max(ns), room


def test_a_clean_stop_closes_every_socket_with_1001(tmp_path):
    objects = write_objects(tmp_path / "objects", room=ROOM)
    gw = GatewayProcess(objects, tmp_path / "data")

    async def run() -> list:
        async with aiohttp.ClientSession() as session:
            sockets = [
                await session.ws_connect(f"{gw.url}/ws/Room/r{i}/x", headers={"Authorization": f"Bearer {gw.token}"})
                for i in range(3)
            ]
            for ws in sockets:
                await ws.send_str("hi")
                assert (await ws.receive(timeout=10)).data == "echo:hi"
            assert await asyncio.to_thread(gw.stop) == 0
            return [await ws.receive(timeout=10) for ws in sockets]

    try:
        closes = asyncio.run(run())
    finally:
        gw.kill()
    assert [(m.type, m.data) for m in closes] == [(aiohttp.WSMsgType.CLOSE, 1001)] * 3
