"""Objects for the testing kit's own tests (tests/test_testing_kit.py)."""

from dotui import DurableObject


class Flaky(DurableObject):
    """An alarm that fails ``fail`` times before it succeeds; every try is logged in storage."""

    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        self.secret = "fresh"  # in memory: lost on hibernation

    def arm(self, at: float, fail: int = 0) -> None:
        self.ctx.storage.put({"fail": fail, "tries": []})
        self.ctx.storage.set_alarm(at)

    def tries(self) -> list:
        return self.ctx.storage.get("tries", [])

    def secret_now(self) -> str:
        return self.secret

    async def alarm(self, info):
        tries = self.ctx.storage.get("tries", [])
        tries.append([self.ctx.now(), info.retry_count])
        self.ctx.storage.put("tries", tries)
        if len(tries) <= self.ctx.storage.get("fail", 0):
            raise RuntimeError(f"try {len(tries)} fails")
