"""GET /<list>/add/<message> appends to a list, GET /<list>/show shows it: each list is its own Durable Object."""

from urllib.parse import urlparse

from pyodide.ffi import to_js
from workers import DurableObject, Response, WorkerEntrypoint

USAGE = "Go to /<list_id>/show to see messages\nGo to /<list_id>/add/<message> to add a message"


class MessageList(DurableObject):
    async def messages(self):
        stored = await self.ctx.storage.get("messages")
        return list(stored) if stored else []

    async def add(self, message):
        messages = await self.messages()
        messages.append(message)
        await self.ctx.storage.put("messages", to_js(messages))


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        parts = urlparse(request.url).path.strip("/").split("/")
        if not parts[0]:
            return Response(USAGE, status=400)
        stub = self.env.LISTS.get(self.env.LISTS.idFromName(parts[0]))
        if len(parts) == 3 and parts[1] == "add":
            await stub.add(parts[2])
            return Response("Message sent")
        if len(parts) == 2 and parts[1] == "show":
            messages = await stub.messages()
            return Response("\n".join(messages) if messages else "No messages")
        return Response("Not Found", status=404)
