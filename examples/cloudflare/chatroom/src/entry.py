"""/ serves the page; /room/<name> is a WebSocket to that room's Durable Object."""

import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

from js import WebSocketPair
from workers import DurableObject, Response, WorkerEntrypoint

HISTORY = 50  # messages a room keeps in memory for the next one to join


def now():
    return datetime.now(UTC).isoformat()


class Room(DurableObject):
    def __init__(self, state, env):
        super().__init__(state, env)
        self.state = state
        self.recent = []  # in memory only: gone when the room hibernates

    async def fetch(self, request):
        if (request.headers.get("Upgrade") or "").lower() != "websocket":
            return Response("Expected WebSocket upgrade", status=400)
        client, server = WebSocketPair.new().object_values()
        self.state.acceptWebSocket(server)
        if self.recent:
            server.send(json.dumps({"type": "history", "messages": self.recent}))
        server.send(json.dumps({"type": "system", "text": "Connected to chatroom", "timestamp": now()}))
        return Response(None, status=101, web_socket=client)

    async def webSocketMessage(self, ws, message):
        data = json.loads(message)
        said = {
            "type": "message",
            "username": data.get("username", "Anonymous"),
            "text": data.get("text", ""),
            "timestamp": now(),
        }
        self.recent = (self.recent + [said])[-HISTORY:]
        for other in self.state.getWebSockets():
            other.send(json.dumps(said))

    async def webSocketClose(self, ws, code, reason, wasClean):
        ws.close(code, reason)


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = urlparse(request.url).path
        if path == "/":
            page = Path(__file__).parent / "index.html"
            return Response(page.read_text(), headers={"Content-Type": "text/html"})
        if path.startswith("/room/") and path[len("/room/") :]:
            rooms = self.env.ROOMS
            return await rooms.get(rooms.idFromName(path[len("/room/") :])).fetch(request)
        return Response("Not found. Use /room/<name> to connect to a chatroom.", status=404)
