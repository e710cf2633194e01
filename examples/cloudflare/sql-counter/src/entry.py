"""A SQLite-backed Durable Object as the storage API docs write one, in Python: the greeting of Cloudflare's
Python Durable Objects announcement (`sql.exec(...).one().greeting`) and a counter kept in a SQL table."""

from urllib.parse import urlparse

from workers import DurableObject, Response, WorkerEntrypoint


class MyDurableObject(DurableObject):
    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        self.sql = ctx.storage.sql
        self.sql.exec("CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")

    def fetch(self, request):
        result = self.sql.exec("SELECT 'Hello, World!' as greeting").one()
        return Response(result.greeting)

    def increment(self, name, by=1):
        row = self.sql.exec(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value RETURNING value",
            name,
            by,
        ).one()
        return row.value

    def counts(self):
        cursor = self.sql.exec("SELECT name, value FROM counters ORDER BY name")
        return {"columns": cursor.columnNames, "rows": [[r.name, r["value"]] for r in cursor]}

    def reset_all(self):
        def both():
            self.sql.exec("DELETE FROM counters")
            self.sql.exec("INSERT INTO counters (name, value) VALUES ('resets', 1)")

        self.ctx.storage.transactionSync(both)
        return self.sql.exec("SELECT count(*) AS n FROM counters").one().n


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        stub = self.env.MY_DURABLE_OBJECT.getByName("foo")
        path = urlparse(request.url).path
        if path == "/":
            return await stub.fetch(request.url)
        if path.startswith("/increment/"):
            return Response(str(await stub.increment(path[len("/increment/") :])))
        if path == "/counts":
            return Response.json(await stub.counts())
        if path == "/reset":
            return Response(str(await stub.reset_all()))
        return Response("Not found", status=404)
