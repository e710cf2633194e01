"""The dotui engine. Imports no UI library (textual, prompt_toolkit, rich)."""

from .engine import Engine
from .errors import (
    BrokenObjectError,
    CommitFailedError,
    DataFolderError,
    DurableObjectError,
    EngineClosedError,
    EngineLockedError,
    InvalidIdError,
    LogCorruptError,
    MethodNotFoundError,
    NamespaceNotFoundError,
    ObjectAbortedError,
    ObjectResetError,
    OverloadedError,
    SqlError,
    TransactionError,
)
from .ids import ObjectId
from .object.api import AlarmInfo, DurableObject, ObjectContext
from .object.stubs import Namespace, Stub

__all__ = [
    "AlarmInfo",
    "BrokenObjectError",
    "CommitFailedError",
    "DataFolderError",
    "DurableObject",
    "DurableObjectError",
    "Engine",
    "EngineClosedError",
    "EngineLockedError",
    "InvalidIdError",
    "LogCorruptError",
    "MethodNotFoundError",
    "Namespace",
    "NamespaceNotFoundError",
    "ObjectAbortedError",
    "ObjectContext",
    "ObjectId",
    "ObjectResetError",
    "OverloadedError",
    "SqlError",
    "Stub",
    "TransactionError",
]
