"""Interleave: where calls can overlap, and how to stop them.

Teaches the input gate: an await lets the next call in; block_concurrency_while
keeps it out. `bump_racy` reads, awaits a sleep, then writes: the await lets
the next call in, so two concurrent bumps both read the same value and one
increment is lost. `bump_blocked` does the same inside
`block_concurrency_while`, which keeps every other call out until it is done.
Call each twice at once (e.g. from two REPLs, or with `asyncio.gather`) and
compare `peek()`.
"""

import asyncio

from dotui import DurableObject


class Interleave(DurableObject):
    """Shows interleaving at an await, and block_concurrency_while preventing it."""

    async def bump_racy(self, delay: float = 0.05) -> int:
        """Read, sleep, write: concurrent calls interleave at the sleep and lose updates."""
        n = self.ctx.storage.get("n", 0)
        await asyncio.sleep(delay)
        self.ctx.storage.put("n", n + 1)
        return n + 1

    async def bump_racy_until(self, key: str = "go") -> int:
        """bump_racy whose await lasts until another call puts `key` in storage: the await lets that call in
        (the tour holds two bumps at their await while you look, then lets them go on)."""
        n = self.ctx.storage.get("n", 0)
        while not self.ctx.storage.get(key):
            await asyncio.sleep(0.02)
        self.ctx.storage.put("n", n + 1)
        return n + 1

    async def bump_blocked(self, delay: float = 0.05) -> int:
        """The same, inside block_concurrency_while: no other call gets in, nothing is lost."""

        async def critical():
            n = self.ctx.storage.get("n", 0)
            await asyncio.sleep(delay)
            self.ctx.storage.put("n", n + 1)
            return n + 1

        return await self.ctx.block_concurrency_while(critical)

    async def bump_blocked_until(self, holder: str, key: str = "go") -> int:
        """bump_blocked whose await lasts until Interleave/`holder` has `key` in storage: the input gate stays
        shut meanwhile, so the word that lets it go on comes from another object (the tour holds the gate while
        you look, then lets it go on)."""

        async def critical():
            n = self.ctx.storage.get("n", 0)
            while not await self.env.Interleave.get_by_name(holder).has(key):
                await asyncio.sleep(0.05)
            self.ctx.storage.put("n", n + 1)
            return n + 1

        return await self.ctx.block_concurrency_while(critical)

    def has(self, key: str) -> bool:
        """Whether `key` is in storage."""
        return bool(self.ctx.storage.get(key))

    def peek(self) -> int:
        """The count."""
        return self.ctx.storage.get("n", 0)

    def reset(self) -> None:
        """Back to zero."""
        self.ctx.storage.put("n", 0)
