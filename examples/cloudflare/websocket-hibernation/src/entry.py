"""Cloudflare's "Build a WebSocket server with WebSocket Hibernation" (Durable Objects docs, examples), in Python."""

from js import Object, WebSocketPair
from workers import DurableObject, Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        if request.url.endswith("/websocket"):
            # Only an upgrade request goes on to the object.
            upgradeHeader = request.headers.get("Upgrade")
            if not upgradeHeader or upgradeHeader != "websocket":
                return Response("Durable Object expected Upgrade: websocket", status=426)

            # One object, named "foo", holds every connection.
            id = self.env.WEBSOCKET_HIBERNATION_SERVER.idFromName("foo")
            stub = self.env.WEBSOCKET_HIBERNATION_SERVER.get(id)

            return await stub.fetch(request)

        return Response(None, status=400, status_text="Bad Request", headers={"Content-Type": "text/plain"})


class WebSocketHibernationServer(DurableObject):
    async def fetch(self, request):
        # The two ends of the connection: the client's goes back in the response.
        webSocketPair = WebSocketPair.new()
        client, server = Object.values(webSocketPair)

        # Accepted through the Hibernation API: the object may leave memory with the socket open,
        # and the next message constructs it again and reaches webSocketMessage.
        self.ctx.acceptWebSocket(server)

        return Response(None, status=101, web_socket=client)

    async def webSocketMessage(self, ws, message):
        # Echo the message, with how many connections the object holds.
        ws.send(f"[Durable Object] message: {message}, connections: {len(self.ctx.getWebSockets())}")

    async def webSocketClose(self, ws, code, reason, wasClean):
        # The client closed: close our side with its code.
        ws.close(code, "Durable Object is closing WebSocket")
