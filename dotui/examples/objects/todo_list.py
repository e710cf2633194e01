"""TodoList: SQL inside an object (a SQLite-backed class).

Teaches: SQL in an object: questions KV storage cannot ask, an index, all-or-nothing changes.
A class with `storage_backend = "sqlite"` owns a private SQLite database. `open` filters and sorts,
`projects` groups and counts, an index keeps those questions fast as the list grows (`plan` shows
SQLite searching it), and `transaction_sync` makes several statements one change (`add_many` adds
every task or none). Every write is durable before the method returns, as with key-value storage.
Its tables are on the Storage tab (the studio) and through `tables TodoList/NAME` and
`sql TodoList/NAME "..."`; `bookmark` and `restore` take it back to any earlier moment (docs/sqlite.md).
"""

from dotui import DurableObject

SCHEMA = """
CREATE TABLE IF NOT EXISTS todo (
  id      INTEGER PRIMARY KEY,
  title   TEXT    NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  project TEXT    NOT NULL DEFAULT 'inbox',
  done    INTEGER NOT NULL DEFAULT 0 CHECK (done IN (0, 1)),
  created INTEGER NOT NULL DEFAULT (unixepoch())
);
CREATE INDEX IF NOT EXISTS todo_by_project ON todo (project, done);
"""


class TodoList(DurableObject):
    """A to-do list kept in SQL: add, finish, ask what is open, add many at once or none."""

    storage_backend = "sqlite"

    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        self.sql = ctx.storage.sql
        self.transaction_sync = ctx.storage.transaction_sync  # several statements, one change
        self.sql.exec(SCHEMA)  # IF NOT EXISTS: runs at every wake, creates the tables only once

    def add(self, title: str, project: str = "inbox") -> dict:
        """Add a task to `project`; returns it with its id."""
        return self.sql.exec(
            "INSERT INTO todo (title, project) VALUES (?, ?) RETURNING id, title, project, done", title, project
        ).one()

    def add_many(self, titles: list, project: str = "inbox") -> int:
        """Add every title to `project`, or none of them: one bad title (empty, or over 200
        characters) rolls the whole batch back. Returns how many were added."""

        def insert_all() -> int:
            for title in titles:
                self.sql.exec("INSERT INTO todo (title, project) VALUES (?, ?)", title, project)
            return len(titles)

        return self.transaction_sync(insert_all)

    def finish(self, id: int) -> bool:
        """Mark task `id` done; False if there is no such open task."""
        return self.sql.exec("UPDATE todo SET done = 1 WHERE id = ? AND done = 0", id).rows_written == 1

    def open(self, project: str | None = None) -> list:
        """The open tasks, oldest first (of one project, or of all)."""
        if project is None:
            return self.sql.exec("SELECT id, title, project FROM todo WHERE done = 0 ORDER BY id").to_array()
        return self.sql.exec(
            "SELECT id, title FROM todo WHERE project = ? AND done = 0 ORDER BY id", project
        ).to_array()

    def projects(self) -> list:
        """Each project with its open and done counts: one GROUP BY, no loop over keys."""
        return self.sql.exec(
            "SELECT project, count(*) - sum(done) AS open, sum(done) AS done "
            "FROM todo GROUP BY project ORDER BY project"
        ).to_array()

    def clear_done(self) -> int:
        """Delete the finished tasks; returns how many went."""
        return self.sql.exec("DELETE FROM todo WHERE done = 1").rows_written

    def plan(self, project: str = "inbox") -> list:
        """How SQLite answers `open(project)`: it searches the index, it does not scan the table."""
        return [
            row["detail"]
            for row in self.sql.exec(
                "EXPLAIN QUERY PLAN SELECT id, title FROM todo WHERE project = ? AND done = 0 ORDER BY id", project
            )
        ]

    def size(self) -> int:
        """Bytes the database takes."""
        return self.sql.database_size
