"""Account: two objects are not one transaction.

Teaches: each object is its own unit of consistency. `transfer` debits this
account (atomically, inside it) and then calls the other account's `deposit`.
If that call fails, the debit has already happened: this code must undo it
itself (a compensating action), because no transaction spans two objects.
"""

from dotui import DurableObject


class Account(DurableObject):
    """A balance in cents; transfer moves money to another Account by name."""

    def balance(self) -> int:
        """The balance in cents."""
        return self.ctx.storage.get("balance", 0)

    def deposit(self, cents: int) -> int:
        """Add `cents` (> 0); returns the new balance."""
        if not isinstance(cents, int) or cents <= 0:
            raise ValueError(f"deposit takes a positive int of cents, got {cents!r}")
        if self.ctx.storage.get("frozen", False):
            raise PermissionError("this account is frozen; deposits are refused")
        balance = self.balance() + cents
        self.ctx.storage.put("balance", balance)
        return balance

    def freeze(self, frozen: bool = True) -> bool:
        """Refuse (or accept again) deposits: makes a transfer's second half fail."""
        self.ctx.storage.put("frozen", bool(frozen))
        return bool(frozen)

    async def transfer(self, to: str, cents: int) -> int:
        """Move `cents` to the account named `to`; returns this balance.

        The debit is local and atomic; the deposit is a call to another object.
        If the deposit fails, the debit is compensated (refunded) here.
        """
        if not isinstance(cents, int) or cents <= 0:
            raise ValueError(f"transfer takes a positive int of cents, got {cents!r}")
        with self.ctx.storage.transaction():
            balance = self.balance()
            if balance < cents:
                raise ValueError(f"insufficient funds: balance {balance}, transfer {cents}")
            self.ctx.storage.put("balance", balance - cents)
        try:
            await self.env.Account.get_by_name(to).deposit(cents)
        except Exception:
            self.ctx.storage.put("balance", self.balance() + cents)  # compensate
            raise
        return self.balance()
