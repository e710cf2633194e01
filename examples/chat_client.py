"""A terminal client for the ChatRoom object over a hibernatable WebSocket.

    dotui serve                                      # terminal 1: the engine and its gateway (port 8787)
    python examples/chat_client.py lobby ann         # terminal 2
    python examples/chat_client.py lobby bob         # terminal 3: type lines; both see them

Each line you type is a message to the room (``ChatRoom.websocket_message``),
which posts it and sends it to every connected member. Leave the room idle past
``dotui serve --idle``: it hibernates (``ls`` shows it), yet both clients stay
connected; the next line wakes it. "ping" gets "pong" from the gateway without
waking the room. The token is found as ``dotui --connect`` finds it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

from aiohttp import ClientSession, WSMsgType

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from dotui.server.auth import find_token  # noqa: E402


def show(data: str) -> str:
    """One line for what the room sent."""
    try:
        event = json.loads(data)
    except ValueError:
        return data  # e.g. the auto-response "pong"
    kind = event.get("type")
    if kind == "message":
        return f"#{event['seq']} {event['user']}: {event['text']}"
    if kind == "welcome":
        past = [f"#{m['seq']} {m['user']}: {m['text']}" for m in event["history"]]
        return "\n".join([*past, f"-- welcome, {event['user']}"])
    return f"-- {event.get('user')} {kind}"


async def chat(url: str, token: str, room: str, user: str) -> int:
    async with ClientSession() as session:
        ws = await session.ws_connect(
            f"{url}/ws/ChatRoom/{room}", params={"user": user}, headers={"Authorization": f"Bearer {token}"}
        )
        loop = asyncio.get_running_loop()

        async def typed() -> None:
            while line := await loop.run_in_executor(None, sys.stdin.readline):
                await ws.send_str(line.rstrip("\n"))
            await ws.close()

        sender = asyncio.ensure_future(typed())
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                print(show(msg.data), flush=True)
        sender.cancel()
        print(f"-- connection closed ({ws.close_code})", flush=True)
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("room")
    p.add_argument("user")
    p.add_argument("--gateway", default="http://127.0.0.1:8787")
    p.add_argument("--data", default=".dotui", help="where `dotui serve` wrote serve.token")
    p.add_argument("--token", default=None)
    a = p.parse_args()
    return asyncio.run(chat(a.gateway, find_token(a.token, a.data), a.room, a.user))


if __name__ == "__main__":
    sys.exit(main())
