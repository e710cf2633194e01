"""The storage studio of SQLite-backed objects (docs/sqlite.md, "The storage studio")."""
