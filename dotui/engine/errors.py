"""The errors a caller of the engine can see.

Every message says what was wrong and, where there is one, what to do instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence


class DurableObjectError(Exception):
    """Base class of every error the engine raises on its own account."""


class InvalidIdError(DurableObjectError, ValueError):
    """A string is not a Durable Object id of this namespace."""


class MethodNotFoundError(DurableObjectError, AttributeError):
    """A stub was asked for a method the class does not offer to callers."""

    def __init__(self, namespace: str, method: str, callable_methods: list[str]):
        self.namespace = namespace
        self.method = method
        self.callable_methods = list(callable_methods)
        listed = ", ".join(self.callable_methods) or "(none)"
        super().__init__(f"{namespace} has no callable method {method!r}; callable methods: {listed}")


class NamespaceNotFoundError(DurableObjectError, LookupError):
    def __init__(self, name: str, known: list[str], load_errors: Sequence[str] = ()):
        self.name = name
        self.known = list(known)
        listed = ", ".join(self.known) or "(none: the objects folder defines no DurableObject class)"
        failed = f"; files that failed to load: {'; '.join(load_errors)}" if load_errors else ""
        super().__init__(f"no namespace {name!r}; namespaces: {listed}{failed}")


class OverloadedError(DurableObjectError):
    def __init__(self) -> None:
        super().__init__("Durable Object is overloaded. Too many requests queued.")


class ObjectResetError(DurableObjectError):
    """The object was reset while the call was in flight; its in-memory state is gone."""


class ObjectAbortedError(ObjectResetError):
    """The object called ``ctx.abort(reason)``; ``retry_alarm`` (read by the alarm scheduler,
    ``object/alarms.py``, when ``alarm()`` aborted) is False when the alarm is to be dropped."""

    def __init__(self, *args: object, retry_alarm: bool = True) -> None:
        super().__init__(*args)
        self.retry_alarm = retry_alarm


class CommitFailedError(ObjectResetError):
    """Writes could not be made durable; the object was reset to its last durable state."""


class BrokenObjectError(DurableObjectError):
    """The object cannot be brought to life (unreadable file, constructor raised)."""


class ObjectExitError(DurableObjectError, RuntimeError):
    """Object code raised ``SystemExit`` (or another ``BaseException`` that is not an
    ``Exception``): its caller gets this instead, and the engine goes on (docs/trust.md)."""


def contained(exc: BaseException, where: str) -> BaseException:
    """What object code's ``exc`` becomes for its caller: itself if it is an ``Exception``, a
    cancellation, a ``KeyboardInterrupt`` (someone asked to stop) or a ``GeneratorExit`` (its
    coroutine is being closed); an ``ObjectExitError`` naming ``where`` otherwise, since a
    ``SystemExit`` would stop the engine's loop. O(1)."""
    if isinstance(exc, (Exception, asyncio.CancelledError, KeyboardInterrupt, GeneratorExit)):
        return exc
    what = f"{type(exc).__name__}({exc})" if str(exc) else type(exc).__name__
    error = ObjectExitError(
        f"{where} raised {what}: object code cannot stop the engine; raise an Exception to fail the call instead"
    )
    error.__cause__ = exc
    return error


class EngineLockedError(DurableObjectError):
    """Another engine holds the data folder."""


class EngineClosedError(DurableObjectError):
    """The engine has been closed; no more calls are accepted."""


class RemoteError(DurableObjectError):
    """Raised at a caller when a method raised an exception type that cannot be rebuilt.

    ``type_name`` is the name of the original exception type.
    """

    def __init__(self, type_name: str, message: str):
        self.type_name = type_name
        super().__init__(f"{type_name}: {message}" if message else type_name)


class DataFolderError(DurableObjectError):
    """The data folder cannot be used as it is (a file where a folder must be, or damage);
    the message names the path and what to do. Nothing in the folder was changed."""


class FolderEntryError(DataFolderError, OSError):
    """An entry of the data folder is not what the engine keeps there: a symbolic link, a folder
    where a file must be, a FIFO. ``path`` names it and the message says what to do; nothing was
    followed, read or changed (docs/trust.md, "The folder itself"). An ``OSError`` too, so a
    checkpoint that meets one fails (reported, tried again) as on any other disk error."""

    def __init__(self, message: str, path: str):
        super().__init__(message)
        self.path = path


class LogCorruptError(DataFolderError):
    """A record of the commit log is damaged and valid records follow it, so it is not a
    torn last append. ``path`` and ``offset`` say where; ``dotui recover`` is the way out."""

    def __init__(self, message: str, path: str, offset: int):
        super().__init__(message)
        self.path = path
        self.offset = offset


class TransactionError(DurableObjectError, RuntimeError):
    """A ``storage.transaction()`` used in a way that could not be all-or-nothing (README, "Storage")."""


class ShardUnavailableError(DurableObjectError, ConnectionError):
    """In a cluster, the shard owning the object could not answer (its host died or is restarting).

    Retryable: the call may or may not have run; once the shard is back (Ray restarts it on
    its data folder) a new call reaches the object with every acknowledged write in place.
    """


class SqlError(DurableObjectError):
    """``ctx.storage.sql.exec`` refused a query or SQLite failed it; the message is Cloudflare's
    (SQLite's own, then the SQLite error code: ``not authorized: SQLITE_AUTH``). Nothing the
    failing statement did is kept (docs/sqlite.md, "What is refused")."""
