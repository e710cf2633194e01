"""Every request reaches the one StreamConsumer; /status says whether it is connected to the stream."""

import json
import time
from urllib.parse import urlparse

import js
from pyodide.ffi import create_proxy
from workers import DurableObject, Response, WorkerEntrypoint

KEEPALIVE_MS = 60_000


class StreamConsumer(DurableObject):
    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        self.socket = None
        self.connected = False
        self.posts = 0  # seen since this instance connected

    async def fetch(self, request):
        if not self.connected:
            await self.keep_alive()
            self.connect()
        if urlparse(request.url).path == "/status":
            state = "connected" if self.connected else "disconnected"
            return Response(f"Firehose status: {state}, {self.posts} posts")
        return Response("Available endpoints: /status")

    async def alarm(self):
        if not self.connected:
            self.connect()
        await self.keep_alive()

    async def keep_alive(self):
        await self.ctx.storage.setAlarm(int(time.time() * 1000) + KEEPALIVE_MS)

    def connect(self):
        url = self.env.STREAM_URL
        cursor = self.ctx.storage.kv.get("cursor")
        if cursor:
            url += f"&cursor={cursor}"
        self.socket = js.WebSocket.new(url)
        self.socket.addEventListener("open", create_proxy(self.on_open))
        self.socket.addEventListener("message", create_proxy(self.on_message))
        self.socket.addEventListener("error", create_proxy(self.on_error))
        self.socket.addEventListener("close", create_proxy(self.on_close))

    async def on_open(self, event):
        self.connected = True
        await self.keep_alive()

    def on_message(self, event):
        data = json.loads(event.data)
        if data.get("time_us"):
            self.ctx.storage.kv.put("cursor", data["time_us"])  # where to resume after a reconnect
        commit = data.get("commit") or {}
        if data.get("kind") == "commit" and commit.get("collection") == "app.bsky.feed.post":
            self.posts += 1

    def on_error(self, event):
        print(f"stream error: {event.message}")
        self.connected = False
        self.ctx.abort("the stream's WebSocket failed")

    async def on_close(self, event):
        print(f"stream closed: {event.code} {event.reason}")
        self.connected = False
        self.ctx.abort("the stream's WebSocket closed")


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        consumers = self.env.CONSUMER
        return await consumers.get(consumers.idFromName("stream-consumer")).fetch(request)
