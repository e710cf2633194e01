"""Cloudflare's "Build a counter" (Durable Objects docs, examples), in Python: ?name=A picks the counter."""

from urllib.parse import parse_qs, urlparse

from workers import DurableObject, Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        url = urlparse(request.url)
        name = parse_qs(url.query).get("name", [None])[0]
        if not name:
            return Response(
                "Select a Durable Object to contact by using"
                " the `name` URL query string parameter, for example, ?name=A"
            )

        # The stub of the counter named by ?name=
        stub = self.env.COUNTERS.getByName(name)

        # RPC to the counter
        if url.path == "/increment":
            count = await stub.increment()
        elif url.path == "/decrement":
            count = await stub.decrement()
        elif url.path == "/":
            # Serves the current value.
            count = await stub.getCounterValue()
        else:
            return Response("Not found", status=404)

        return Response(f"Durable Object '{name}' count: {count}")


class Counter(DurableObject):
    async def getCounterValue(self):
        value = (await self.ctx.storage.get("value")) or 0
        return value

    async def increment(self, amount=1):
        value = (await self.ctx.storage.get("value")) or 0
        value += amount
        # No other call runs between the get and the put (the input gate): the increment is safe.
        await self.ctx.storage.put("value", value)
        return value

    async def decrement(self, amount=1):
        value = (await self.ctx.storage.get("value")) or 0
        value -= amount
        await self.ctx.storage.put("value", value)
        return value
