"""Cloudflare's "Durable Object Time To Live" (Durable Objects docs, examples), in Python: every request pushes
the object's alarm back; when it fires, the object's storage goes."""

from js import Date
from workers import DurableObject, Response, WorkerEntrypoint


class MyDurableObject(DurableObject):
    # Time To Live (TTL) in milliseconds
    timeToLiveMs = 1000

    def __init__(self, ctx, env):
        super().__init__(ctx, env)

    async def fetch(self, _request):
        # Extend the TTL immediately following every fetch request to a Durable Object.
        await self.ctx.storage.setAlarm(Date.now() + self.timeToLiveMs)
        # (what the object does with the request: here, it counts them)
        visits = ((await self.ctx.storage.get("visits")) or 0) + 1
        await self.ctx.storage.put("visits", visits)
        return Response(f"visits: {visits}")

    async def alarm(self):
        await self.ctx.storage.deleteAll()


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        stub = self.env.MY_DURABLE_OBJECT.getByName("foo")
        return await stub.fetch(request)
