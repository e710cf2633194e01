"""Cloudflare's "Use the Alarms API" (Durable Objects docs, examples), in Python: requests within 10 s are
batched, and the alarm sends the batch upstream."""

import json

from js import Date
from workers import DurableObject, Response, WorkerEntrypoint, fetch


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await self.env.BATCHER.getByName("foo").fetch(request)


class Batcher(DurableObject):
    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        self.storage = ctx.storage

        async def load():
            vals = await self.storage.list(reverse=True, limit=1)
            self.count = 0 if len(vals) == 0 else int(next(iter(vals.keys())))

        self.ctx.blockConcurrencyWhile(load)

    async def fetch(self, request):
        self.count += 1

        # If there is no alarm currently set, set one for 10 seconds from now
        # Any further POSTs in the next 10 seconds will be part of this batch.
        currentAlarm = await self.storage.getAlarm()
        if currentAlarm is None:
            self.storage.setAlarm(Date.now() + 1000 * 10)

        # Add the request to the batch.
        await self.storage.put(self.count, await request.text())
        return Response(
            json.dumps({"queued": self.count}, separators=(",", ":")),
            headers={"content-type": "application/json;charset=UTF-8"},
        )

    async def alarm(self):
        vals = await self.storage.list()
        await fetch("http://example.com/some-upstream-service", method="POST", body=json.dumps(list(vals.values())))
        await self.storage.deleteAll()
        self.count = 0
