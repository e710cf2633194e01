"""Cloudflare's "Durable Object in-memory state" (Durable Objects docs, examples), in Python: the object
remembers where the last request came from, in memory only."""

from workers import DurableObject, Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await handleRequest(request, self.env)


async def handleRequest(request, env):
    stub = env.LOCATION.getByName("A")
    # Forward the request to the remote Durable Object.
    resp = await stub.fetch(request)
    # Return the response to the client.
    return Response(await resp.text())


class Location(DurableObject):
    def __init__(self, state, env):
        super().__init__(state, env)
        # Upon construction, you do not have a location to provide.
        # This value will be updated as people access the Durable Object.
        # When the Durable Object is evicted from memory, this will be reset.
        self.location = None

    # Handle HTTP requests from clients.
    async def fetch(self, request):
        response = None

        if self.location is None:
            response = """
This is the first request, you called the constructor, so this.location was null.
You will see the location of this request next time you make a request.
"""
        else:
            response = f"""
The last request was from {self.location}.
You will see the location of this request next time you make a request.
"""

        # We set the new location to be the new city.
        self.location = request.cf.city
        return Response(response)
