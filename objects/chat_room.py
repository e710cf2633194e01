"""ChatRoom: many callers coordinated by one object.

Teaches: one instance serializes everyone. Every member posts to, and reads
from, the same object, so message numbers never collide and nobody sees a
message out of order — with no lock anywhere in this code.
"""

import time

from dotui import DurableObject

MAX_KEPT = 1000


class ChatRoom(DurableObject):
    """A chat room: members join, post and read; message ids are strictly increasing."""

    def join(self, user: str) -> list:
        """Add `user` to the room; returns the members."""
        members = self.ctx.storage.get("members", [])
        if user not in members:
            members.append(user)
            self.ctx.storage.put("members", members)
        return members

    def leave(self, user: str) -> list:
        """Remove `user`; returns the members."""
        members = [m for m in self.ctx.storage.get("members", []) if m != user]
        self.ctx.storage.put("members", members)
        return members

    def post(self, user: str, text: str) -> int:
        """Post `text` as `user` (who must have joined); returns the message number."""
        if user not in self.ctx.storage.get("members", []):
            raise PermissionError(f"{user!r} is not in this room; call join({user!r}) first")
        seq = self.ctx.storage.get("seq", 0) + 1
        self.ctx.storage.put({"seq": seq, f"msg/{seq:012d}": {"user": user, "text": text, "at": time.time()}})
        if seq > MAX_KEPT:
            self.ctx.storage.delete(f"msg/{seq - MAX_KEPT:012d}")
        return seq

    def read(self, after: int = 0, limit: int = 50) -> list:
        """Messages numbered above `after`, oldest first, at most `limit`."""
        items = self.ctx.storage.list(prefix="msg/", start_after=f"msg/{after:012d}", limit=limit)
        return [{"seq": int(k[4:]), **v} for k, v in items.items()]
