"""Cloudflare's "Build a rate limiter" (Durable Objects docs, examples), in Python: a token bucket per client IP,
refilled by an alarm."""

from js import Date
from workers import DurableObject, Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        # Determine the IP address of the client
        ip = request.headers.get("CF-Connecting-IP")
        if ip is None:
            return Response("Could not determine client IP", status=400)

        # Obtain an identifier for a Durable Object based on the client's IP address
        id = self.env.RATE_LIMITER.idFromName(ip)

        try:
            stub = self.env.RATE_LIMITER.get(id)
            milliseconds_to_next_request = await stub.getMillisecondsToNextRequest()
            if milliseconds_to_next_request > 0:
                # Alternatively one could sleep for the necessary length of time
                return Response("Rate limit exceeded", status=429)
        except Exception:  # noqa: BLE001 - the docs catch every error of the call, as here
            return Response("Could not connect to rate limiter", status=502)

        # TODO: Implement me
        return Response("Call some upstream resource...")


class RateLimiter(DurableObject):
    milliseconds_per_request = 1
    milliseconds_for_updates = 5000
    capacity = 10000

    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        self.tokens = RateLimiter.capacity

    async def getMillisecondsToNextRequest(self):
        await self.checkAndSetAlarm()

        milliseconds_to_next_request = RateLimiter.milliseconds_per_request
        if self.tokens > 0:
            self.tokens -= 1
            milliseconds_to_next_request = 0

        return milliseconds_to_next_request

    async def checkAndSetAlarm(self):
        currentAlarm = await self.ctx.storage.getAlarm()
        if currentAlarm is None:
            self.ctx.storage.setAlarm(
                Date.now() + RateLimiter.milliseconds_for_updates * RateLimiter.milliseconds_per_request
            )

    async def alarm(self):
        if self.tokens < RateLimiter.capacity:
            self.tokens = min(RateLimiter.capacity, self.tokens + RateLimiter.milliseconds_for_updates)
            await self.checkAndSetAlarm()
