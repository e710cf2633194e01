"""Notebooks: a Python Workers project as Cloudflare's docs write one, with both kinds of storage.

POST /<book> with a note appends it (SQL); GET /<book> lists the notes (SQL), GET /<book>/meta the
notebook's metadata (async KV); each notebook is a Durable Object reached by getByName, by RPC and by
stub.fetch.
"""

import json
from datetime import UTC, datetime
from urllib.parse import urlparse

from workers import DurableObject, Response, WorkerEntrypoint


class Notebook(DurableObject):
    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        ctx.storage.sql.exec(
            "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT NOT NULL, at TEXT)"
        )

    async def add(self, text):
        row = self.ctx.storage.sql.exec(
            "INSERT INTO notes (text, at) VALUES (?, ?) RETURNING id", text, datetime.now(UTC).isoformat()
        ).one()
        meta = (await self.ctx.storage.get("meta")) or {"count": 0}
        meta["count"] += 1
        meta["last"] = row.id
        await self.ctx.storage.put("meta", meta)
        return row.id

    def notes(self):
        return [r.text for r in self.ctx.storage.sql.exec("SELECT text FROM notes ORDER BY id")]

    async def fetch(self, request):
        meta = await self.ctx.storage.get("meta")
        return Response.json({"name": self.ctx.id.name, "meta": meta})


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        parts = urlparse(request.url).path.strip("/").split("/")
        if not parts[0]:
            return Response("POST /<book> a note; GET /<book> the notes; GET /<book>/meta", status=400)
        book = self.env.NOTES.getByName(parts[0])
        if request.method == "POST":
            return Response.json({"id": await book.add(await request.text())}, status=201)
        if parts[1:] == ["meta"]:
            return await book.fetch(request)
        return Response(json.dumps(await book.notes()), headers={"content-type": "application/json"})
