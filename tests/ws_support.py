"""For the WebSocket tests: an object that uses every part of the Hibernation API."""

from __future__ import annotations

ROOM = """
    import json
    from dotui import DurableObject

    class Room(DurableObject):
        \"\"\"Echoes, counts, broadcasts by tag; remembers how its sockets closed.\"\"\"

        def __init__(self, ctx, env):
            super().__init__(ctx, env)
            self.seen = 0  # in memory: 1 again after a wake

        async def fetch(self, request):
            ws = request.get("websocket")
            if ws is None:
                return {"status": 400, "body": "WebSockets only"}
            if request["query"].get("refuse"):
                return {"status": 403, "body": "go away"}
            tags = [t for t in request["query"].get("tags", "").split(",") if t]
            self.ctx.accept_websocket(ws, tags=tags)
            ws.serialize_attachment({"user": request["query"].get("user"), "path": request["path"]})
            if request["query"].get("abort"):
                self.ctx.abort("aborted in fetch, after accepting")
            return {"status": 101}

        async def websocket_message(self, ws, message):
            self.seen += 1
            if isinstance(message, bytes):
                ws.send(message[::-1])
            elif message == "count":
                n = self.ctx.storage.get("n", 0) + 1
                self.ctx.storage.put("n", n)
                ws.send(json.dumps({"n": n, "seen": self.seen, "attachment": ws.deserialize_attachment()}))
            elif message.startswith("tag:"):
                group = self.ctx.get_websockets(message[4:])
                for w in group:
                    w.send(f"to {message[4:]}: {len(group)}")
            elif message == "tags":
                ws.send(json.dumps(self.ctx.get_tags(ws)))
            elif message == "all":
                ws.send(str(len(self.ctx.get_websockets())))
            elif message == "auto":
                self.ctx.set_websocket_auto_response("ping", "pong")
                ws.send("auto set")
            elif message == "autots":
                ts = self.ctx.get_websocket_auto_response_timestamp(ws)
                ws.send("none" if ts is None else ts.isoformat())
            elif message.startswith("rename:"):
                ws.serialize_attachment({**ws.deserialize_attachment(), "user": message[7:]})
                ws.send("renamed")
            elif message == "close":
                ws.close(4000, "bye")
            elif message == "boom":
                raise ValueError("boom")
            elif message == "abort":
                self.ctx.abort("the test aborts it")
            elif message == "bcwthrow":
                async def fail():
                    raise RuntimeError("thrown in block_concurrency_while")
                await self.ctx.block_concurrency_while(fail)
            else:
                ws.send("echo:" + message)

        async def websocket_close(self, ws, code, reason, was_clean):
            self.ctx.storage.put("closed", [code, reason, was_clean, ws.deserialize_attachment()["user"]])

        def closed(self):
            return self.ctx.storage.get("closed")

        def count(self):
            return self.ctx.storage.get("n", 0)
"""
