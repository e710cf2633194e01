"""blockConcurrencyWhile nested DEPTH deep in one Durable Object, on both runtimes: the JavaScript on
workerd (bench/peer/nesting.mjs, through Miniflare) and the same class as a Python Workers project on
dotui (through `dotui serve`, a request to its Worker for each depth), the answers side by side.

    python bench/nesting.py                 # depths 1 10 100 300 500 1000 5000
    python bench/nesting.py 20000           # any depths

Each answer is the status and body of the Worker's reply: "200 bottom" when the innermost callback ran,
else the error's message. tests/test_peer_behaviour.py fails if they differ; docs/cloudflare.md
("blockConcurrencyWhile nesting") says what each runtime does.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != str(HERE)] + [str(HERE)]
sys.path.insert(0, str(HERE.parent))

import aiohttp

from served import Served

DEPTHS = [1, 10, 100, 300, 500, 1000, 5000]

# bench/peer/nesting.mjs in Python, line for line.
WRANGLER = """
name = "nesting"
main = "src/entry.py"
[[durable_objects.bindings]]
name = "NEST"
class_name = "Nest"
[[migrations]]
tag = "v1"
new_sqlite_classes = ["Nest"]
"""

ENTRY = """
from urllib.parse import parse_qs, urlparse
from workers import DurableObject, Response, WorkerEntrypoint


class Nest(DurableObject):
    async def nest(self, depth):
        async def inner(n):
            return "bottom" if n == 0 else await self.ctx.blockConcurrencyWhile(lambda: inner(n - 1))
        try:
            return await inner(depth)
        except Exception as e:
            return str(e)


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        depth = int(parse_qs(urlparse(request.url).query)["depth"][0])
        return Response(await self.env.NEST.getByName(f"n{depth}").nest(depth))
"""


async def _ask(url: str, depths: list[int]) -> dict[str, str]:
    out = {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as http:
        for d in depths:
            async with http.get(f"{url}/?depth={d}") as res:
                out[str(d)] = f"{res.status} {(await res.text())[:200]}"
    return out


def run_dotui(depths: list[int]) -> dict[str, str]:
    with tempfile.TemporaryDirectory(prefix="dotui-nesting-") as tmp:
        folder = Path(tmp)
        (folder / "src").mkdir()
        (folder / "wrangler.toml").write_text(WRANGLER)
        (folder / "src" / "entry.py").write_text(textwrap.dedent(ENTRY))
        with Served(folder / "wrangler.toml", folder / ".dotui") as served:
            return asyncio.run(asyncio.wait_for(_ask(served.url, depths), 600))


def run_peer(depths: list[int]) -> dict[str, str]:
    proc = subprocess.run(
        ["node", "nesting.mjs", *map(str, depths)], cwd=HERE / "peer", capture_output=True, text=True, timeout=600
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench/peer/nesting.mjs failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def main(argv: list[str]) -> int:
    depths = [int(a) for a in argv] or DEPTHS
    t0 = time.perf_counter()
    ours = run_dotui(depths)
    t1 = time.perf_counter()
    theirs = run_peer(depths)
    t2 = time.perf_counter()
    print(f"{'depth':>7}  {'dotui':<30} workerd")
    for d in map(str, depths):
        mark = "" if ours[d] == theirs[d] else "   DIFFERS"
        print(f"{d:>7}  {ours[d][:30]:<30} {theirs[d][:60]}{mark}")
    print(f"(dotui {t1 - t0:.1f} s, workerd {t2 - t1:.1f} s, each with its start)")
    return 0 if ours == theirs else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
