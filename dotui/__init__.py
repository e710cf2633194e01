"""dotui: a local Durable Objects engine for Python, with a TUI and a REPL to watch it work."""

from .engine import (
    AlarmInfo,
    BrokenObjectError,
    CommitFailedError,
    DataFolderError,
    DurableObject,
    DurableObjectError,
    Engine,
    EngineClosedError,
    EngineLockedError,
    InvalidIdError,
    LogCorruptError,
    MethodNotFoundError,
    Namespace,
    NamespaceNotFoundError,
    ObjectAbortedError,
    ObjectContext,
    ObjectId,
    ObjectResetError,
    OverloadedError,
    SqlError,
    Stub,
    TransactionError,
)

__all__ = [
    "AlarmInfo", "BrokenObjectError", "CommitFailedError", "DataFolderError", "DurableObject", "DurableObjectError",
    "Engine", "EngineClosedError", "EngineLockedError", "InvalidIdError", "LogCorruptError", "MethodNotFoundError",
    "Namespace", "NamespaceNotFoundError", "ObjectAbortedError", "ObjectContext", "ObjectId",
    "ObjectResetError", "OverloadedError", "SqlError", "Stub", "TransactionError",
]
__version__ = "0.1.0"
