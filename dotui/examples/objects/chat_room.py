"""ChatRoom: many callers coordinated by one object.

Teaches: one instance serializes everyone, and holds its members' WebSockets
while it sleeps. Every member posts to, and reads from, the same object, so
message numbers never collide and nobody sees a message out of order — with no
lock anywhere in this code.

It also takes WebSockets (Cloudflare's Hibernation API): connect to
``/ws/ChatRoom/<room>?user=NAME`` on ``dotui serve`` (``ws ChatRoom/lobby ?user=ann``
in the REPL, or ``python examples/chat_client.py lobby ann``). The room may
hibernate while its members stay connected: the gateway holds the sockets, each
socket's attachment remembers its user, and the next message wakes the room.
"ping" is answered "pong" by the gateway without waking it.
"""

import json

from dotui import DurableObject

MAX_KEPT = 1000


class ChatRoom(DurableObject):
    """A chat room: members join, post and read; message ids are strictly increasing."""

    def join(self, user: str) -> list:
        """Add `user` to the room; returns the members."""
        members = self.ctx.storage.get("members", [])
        if user not in members:
            members.append(user)
            self.ctx.storage.put("members", members)
        return members

    def leave(self, user: str) -> list:
        """Remove `user`; returns the members."""
        members = [m for m in self.ctx.storage.get("members", []) if m != user]
        self.ctx.storage.put("members", members)
        return members

    def post(self, user: str, text: str) -> int:
        """Post `text` as `user` (who must have joined); returns the message number. Connected sockets see it."""
        if user not in self.ctx.storage.get("members", []):
            raise PermissionError(f"{user!r} is not in this room; call join({user!r}) first")
        seq = self.ctx.storage.get("seq", 0) + 1
        at = self.ctx.now()
        self.ctx.storage.put({"seq": seq, f"msg/{seq:012d}": {"user": user, "text": text, "at": at}})
        if seq > MAX_KEPT:
            self.ctx.storage.delete(f"msg/{seq - MAX_KEPT:012d}")
        self._broadcast({"type": "message", "seq": seq, "user": user, "text": text, "at": at})
        return seq

    async def announce(self, user: str, text: str) -> int:
        """Post `text` as `user` and answer only once it is on disk (storage.sync()), inside
        block_concurrency_while: no other call gets into the room until then, so they wait in its queue."""

        async def durable() -> int:
            seq = self.post(user, text)
            await self.ctx.storage.sync()
            return seq

        return await self.ctx.block_concurrency_while(durable)

    def read(self, after: int = 0, limit: int = 50) -> list:
        """Messages numbered above `after`, oldest first, at most `limit`."""
        items = self.ctx.storage.list(prefix="msg/", start_after=f"msg/{after:012d}", limit=limit)
        return [{"seq": int(k[4:]), **v} for k, v in items.items()]

    def online(self) -> list:
        """The users connected by WebSocket now (read from the sockets' attachments)."""
        return sorted({ws.deserialize_attachment()["user"] for ws in self.ctx.get_websockets()})

    # ---------------------------------------------------------------- WebSockets
    def fetch(self, request: dict) -> dict:
        """A WebSocket upgrade (`GET /ws/ChatRoom/<room>?user=NAME`) joins the room."""
        ws = request.get("websocket")
        if ws is None:
            return {"status": 426, "body": "connect with a WebSocket: GET /ws/ChatRoom/<room>?user=NAME"}
        user = request["query"].get("user") or "anonymous"
        self.join(user)
        self.ctx.accept_websocket(ws, tags=[f"user:{user}"])
        ws.serialize_attachment({"user": user})  # survives hibernation; self.* does not
        self.ctx.set_websocket_auto_response("ping", "pong")
        ws.send(
            json.dumps(
                {"type": "welcome", "user": user, "history": self.read(max(0, self.ctx.storage.get("seq", 0) - 10))}
            )
        )
        self._broadcast({"type": "joined", "user": user})
        return {"status": 101}

    def websocket_message(self, ws, message) -> None:
        """A line from a member: posted, and so sent to everyone connected."""
        if not isinstance(message, str) or not message.strip():
            return
        self.post(ws.deserialize_attachment()["user"], message)

    def websocket_close(self, ws, code: int, reason: str, was_clean: bool) -> None:
        user = ws.deserialize_attachment()["user"]
        if not self.ctx.get_websockets(f"user:{user}"):  # their last connection
            self._broadcast({"type": "left", "user": user})

    def _broadcast(self, event: dict) -> None:
        text = json.dumps(event)
        for ws in self.ctx.get_websockets():
            ws.send(text)
