"""The gateway's bearer token: made at start, kept in ``<data>/serve.token`` (mode 0600).

Every request must carry ``Authorization: Bearer <token>``: none is 401, a
wrong one 403. Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
import os
import re
import secrets

from ..engine.durability import disk
from ..engine.durability.checkpoint import atomic_write

TOKEN_FILE = "serve.token"
TOKEN_ENV = "DOTUI_TOKEN"


MAX_TOKEN_FILE = 1024
"""The most of ``serve.token`` that is read: a token of ``new_token`` is 43 characters."""
_TOKEN_TEXT = re.compile(rb"[A-Za-z0-9_-]{1,1024}")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_path(data: str) -> str:
    return os.path.join(os.path.realpath(data), TOKEN_FILE)  # the folder may be a link; the file may not


def write_token(data: str, token: str) -> str:
    """Write the token where ``--connect`` finds it, readable by this user only; returns the path.

    Written as the engine writes its files (``checkpoint.atomic_write``): a temporary made
    exclusively under an unguessable name, 0600, renamed over the old file, so no planted link is
    written through and an old file's mode does not survive."""
    path = token_path(data)
    disk.makedirs(os.path.dirname(path))
    atomic_write(path, (token + "\n").encode())
    return path


def remove_token(data: str, token: str) -> None:
    """Remove the token file if it still holds this gateway's token."""
    path = token_path(data)
    try:
        if disk.read_file(path).decode(errors="replace").strip() != token:
            return
        disk.remove(path)
    except OSError:
        pass


class TokenNotFound(PermissionError):
    pass


def find_token(token: str | None = None, data: str | None = None) -> str:
    """The token to present: given, else ``$DOTUI_TOKEN``, else ``<data>/serve.token``."""
    if token:
        return token
    env = os.environ.get(TOKEN_ENV)
    if env:
        return env.strip()
    path = token_path(data or ".dotui")
    try:
        found = disk.read_file(path, limit=MAX_TOKEN_FILE)  # a link is not followed
    except FileNotFoundError:
        raise TokenNotFound(
            f"no token for dotui serve: {path} does not exist. Start the gateway with `dotui serve` "
            f"(it writes that file), point --data at the gateway's data folder, or pass --token TOKEN "
            f"(or set {TOKEN_ENV})"
        ) from None
    except OSError as exc:
        raise TokenNotFound(
            f"cannot read the token file {path}: {exc}; pass --token TOKEN or set {TOKEN_ENV}"
        ) from None
    raw = found.strip()
    if not raw:
        raise TokenNotFound(f"the token file {path} is empty; restart `dotui serve`, or pass --token TOKEN")
    if len(found) > MAX_TOKEN_FILE or not _TOKEN_TEXT.fullmatch(raw):
        # What goes into the Authorization header is only ever a token: a file holding anything else (a
        # line break would add a header) is damage, not echoed back.
        raise TokenNotFound(
            f"the token file {path} holds no token (at most {MAX_TOKEN_FILE} bytes of letters, digits, '-' "
            f"and '_'); restart `dotui serve` to write a new one, or pass --token TOKEN"
        )
    return raw.decode("ascii")


def check_bearer(header: str | None, token: str) -> int:
    """200 when ``header`` carries the token, 401 when it carries none, 403 when it is wrong."""
    if not header:
        return 401
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return 401
    # A header's non-ASCII bytes arrive as surrogate escapes: compare the bytes that were sent.
    if hmac.compare_digest(given.strip().encode("utf-8", "surrogateescape"), token.encode()):
        return 200
    return 403
