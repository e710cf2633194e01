"""Durable Object ids: 64 lowercase hex digits, bound to their namespace.

An id is 32 bytes: 24 bytes that identify the object and 8 bytes of check value,
a keyed hash of those 24 bytes under the namespace's key. ``id_from_name`` derives
the 24 bytes from the name with the same key, so it is deterministic per
namespace; ``new_unique_id`` takes them from a clock and randomness. The check
value lets ``id_from_string`` reject an id of another namespace, or a forged one.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time

from .errors import InvalidIdError

_HEX64 = re.compile(r"[0-9a-f]{64}")

MALFORMED_ID = "Invalid Durable Object ID: must be 64 hex digits"
FOREIGN_ID = "Durable Object ID is not valid for this namespace."


class ObjectId:
    """The address of one durable object. Compares with ``==``, hashes, prints as hex."""

    __slots__ = ("hex", "name", "namespace")

    def __init__(self, hex: str, namespace: str, name: str | None = None):
        self.hex = hex
        self.namespace = namespace
        self.name = name

    def __str__(self) -> str:
        return self.hex

    def __repr__(self) -> str:
        label = f" name={self.name!r}" if self.name is not None else ""
        return f"ObjectId({self.namespace}/{self.hex[:12]}…{label})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectId) and other.hex == self.hex

    def __hash__(self) -> int:
        return hash(self.hex)

    def equals(self, other: ObjectId) -> bool:
        """Cloudflare's spelling of ``==``."""
        return self == other

    def to_string(self) -> str:
        return self.hex

    toString = to_string  # Cloudflare's spelling (Python Workers code: docs/cloudflare.md)


class IdFactory:
    """Makes and checks the ids of one namespace."""

    NAMES_KEPT = 4096  # names whose id is remembered (two keyed hashes each, saved on every call by name)
    NAME_CHARS_KEPT = 256  # longer names are not remembered (at most ~1 MiB of names kept)

    def __init__(self, namespace: str):
        self.namespace = namespace
        key = hashlib.sha256(b"dotui namespace\0" + namespace.encode()).digest().ljust(64, b"\0")
        # HMAC-SHA256 under that key (RFC 2104) with its keyed inner and outer states made once: a
        # hash of an id or a name then costs two copies and two short updates (~1 us, where
        # hmac.new costs ~4: reading an index checks every row's id and name).
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
        self._hex_of_name: dict[str, str] = {}

    def _mac(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def _check(self, body: bytes) -> bytes:
        return self._mac(b"check\0" + body)[:8]

    def _make(self, body: bytes, name: str | None) -> ObjectId:
        return ObjectId((body + self._check(body)).hex(), self.namespace, name)

    @property
    def names_remembered(self) -> int:
        """How many names' ids are remembered now (at most NAMES_KEPT)."""
        return len(self._hex_of_name)

    def from_name(self, name: str) -> ObjectId:
        if not isinstance(name, str):
            raise TypeError(f"id_from_name takes a str name, not {type(name).__name__}")
        hx = self._hex_of_name.get(name)
        if hx is None:
            try:
                raw = name.encode()
            except UnicodeEncodeError as exc:  # a lone surrogate: no UTF-8 holds it, so no file or record could
                raise ValueError(
                    f"an object's name must be Unicode text that UTF-8 can hold; {name!r:.60} has a lone "
                    f"surrogate ({name[exc.start]!r}) at character {exc.start}: send the name without it"
                ) from None
            body = self._mac(b"name\0" + raw)[:24]
            hx = (body + self._check(body)).hex()
            if len(name) <= self.NAME_CHARS_KEPT:
                if len(self._hex_of_name) >= self.NAMES_KEPT:
                    self._hex_of_name.clear()
                self._hex_of_name[name] = hx
        return ObjectId(hx, self.namespace, name)

    def new_unique(self) -> ObjectId:
        # A time prefix keeps unique ids of one namespace roughly in creation order.
        body = time.time_ns().to_bytes(8, "big") + os.urandom(16)
        return self._make(body, None)

    def adopt(self, hx: str, name: str | None = None) -> ObjectId:
        """The id in this namespace of an object of another (a renamed class's, docs/cloudflare.md):
        its 24 bytes with this namespace's check value; a named one's is ``from_name(name)``. O(1)."""
        if name is not None:
            return self.from_name(name)
        if not isinstance(hx, str) or not _HEX64.fullmatch(hx):
            raise InvalidIdError(MALFORMED_ID)
        return self._make(bytes.fromhex(hx)[:24], None)

    def from_string(self, text: str) -> ObjectId:
        if not isinstance(text, str) or not _HEX64.fullmatch(text):
            raise InvalidIdError(MALFORMED_ID)
        raw = bytes.fromhex(text)
        if not hmac.compare_digest(raw[24:], self._check(raw[:24])):
            raise InvalidIdError(FOREIGN_ID)
        return ObjectId(text, self.namespace, None)

    def is_id_of_name(self, hx: str, name: str) -> bool:
        """Whether ``hx`` (an id valid for this namespace) is ``from_name(name)``'s: one keyed hash
        of the name, O(len(name)), whatever is remembered (an index of many names is read once)."""
        body = self._mac(b"name\0" + name.encode())[:24]
        return hmac.compare_digest(body.hex(), hx[:48])

    def is_valid(self, text: str) -> bool:
        try:
            self.from_string(text)
        except InvalidIdError:
            return False
        return True
