"""The object runtime: one object's instance, call queue, gates, tasks, alarms, WebSockets and the storage API its code sees (docs: ARCHITECTURE.md)."""
