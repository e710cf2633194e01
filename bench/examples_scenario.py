"""Cloudflare's Durable Objects docs examples on both runtimes: the JavaScript on workerd
(bench/peer/examples/*.js, through Miniflare) and its Python Workers port on dotui
(examples/cloudflare/<name>/, through `dotui serve`), the same requests to each, the answers diffed.

    python bench/examples_scenario.py      # both sides; prints every step and any difference

bench/behaviour.py runs it with its other scenarios; tests/test_examples_peer.py fails on a difference
not listed in DELIBERATE.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != str(HERE)] + [str(HERE)]
sys.path.insert(0, str(HERE.parent))

import aiohttp

from served import Served

EXAMPLES = HERE.parent / "examples" / "cloudflare"

# example -> its binding, its class, and the requests: (kind, path, body); SLEEP's body is milliseconds.
PLAN: dict[str, dict] = {
    "counter": {
        "binding": "COUNTERS",
        "cls": "Counter",
        "steps": [
            ["GET", "/", ""],
            ["GET", "/?name=A", ""],
            ["GET", "/increment?name=A", ""],
            ["GET", "/increment?name=A", ""],
            ["GET", "/decrement?name=A", ""],
            ["GET", "/increment?name=B", ""],
            ["GET", "/?name=A", ""],
            ["GET", "/other?name=A", ""],
        ],
    },
    "ttl": {
        "binding": "MY_DURABLE_OBJECT",
        "cls": "MyDurableObject",
        "steps": [["GET", "/", ""], ["GET", "/", ""], ["SLEEP", "", "3000"], ["GET", "/", ""]],
    },
    "location": {"binding": "LOCATION", "cls": "Location", "steps": [["GET", "/", ""], ["GET", "/", ""]]},
    "batcher": {
        "binding": "BATCHER",
        "cls": "Batcher",
        "steps": [["POST", "/", "a"], ["POST", "/", "b"], ["POST", "/", "c"]],
    },
    "websocket-hibernation": {
        "binding": "WEBSOCKET_HIBERNATION_SERVER",
        "cls": "WebSocketHibernationServer",
        "steps": [["GET", "/websocket", ""], ["GET", "/", ""], ["WS", "/websocket", "hello"]],
    },
}

# Differences that are choices, not bugs: key -> why.
DELIBERATE: dict[str, str] = {}


def _normalize(answer):
    """request.cf.city is the edge's: Miniflare's guess of where the machine is, dotui's "local"."""
    if isinstance(answer, list) and len(answer) == 2 and isinstance(answer[1], str):
        return [
            answer[0],
            re.sub(r"The last request was from .*?\.\n", "The last request was from <city>.\n", answer[1]),
        ]
    return answer


async def _steps(url: str, steps: list) -> list:
    out: list = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as s:
        for kind, path, body in steps:
            if kind == "SLEEP":
                await asyncio.sleep(int(body) / 1000)
                out.append(None)
            elif kind == "WS":
                async with s.ws_connect(url + path) as ws:
                    await ws.send_str(body)
                    out.append((await ws.receive(timeout=10)).data)
            else:
                async with s.request(kind, url + path, data=body or None) as r:
                    out.append([r.status, await r.text()])
    return out


def run_dotui() -> dict:
    out = {}
    with tempfile.TemporaryDirectory(prefix="dotui-examples-") as tmp:
        for name, plan in PLAN.items():
            folder = Path(shutil.copytree(EXAMPLES / name, Path(tmp) / name))
            with Served(folder / "wrangler.toml", folder / ".dotui") as served:
                out[name] = asyncio.run(asyncio.wait_for(_steps(served.url, plan["steps"]), 120))
    return out


def run_peer() -> dict:
    proc = subprocess.run(
        ["node", "examples.mjs"], cwd=HERE / "peer", input=json.dumps(PLAN), capture_output=True, text=True, timeout=300
    )
    if proc.returncode != 0:
        raise RuntimeError(f"the peer's examples failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def flatten(answers: dict) -> dict:
    """One key per step: ``counter #3 GET /increment?name=A``."""
    return {
        f"{name} #{i} {kind} {path}".rstrip(): _normalize(a)
        for name, got in answers.items()
        for i, ((kind, path, _), a) in enumerate(zip(PLAN[name]["steps"], got, strict=True))
    }


def diff(dotui: dict, peer: dict) -> list[tuple[str, object, object]]:
    return [(k, dotui.get(k), peer.get(k)) for k in sorted(set(dotui) | set(peer)) if dotui.get(k) != peer.get(k)]


def main() -> int:
    ours, theirs = flatten(run_dotui()), flatten(run_peer())
    for key in sorted(ours):
        print(f"{key}: {json.dumps(ours[key])[:100]}")
    differences = diff(ours, theirs)
    print(f"{len(ours) - len(differences)} steps answer the same on dotui and workerd; {len(differences)} differ:")
    for key, a, b in differences:
        print(f"- {key}\n    dotui:   {a}\n    workerd: {b}\n    why:     {DELIBERATE.get(key, 'UNEXPECTED')}")
    return 1 if any(k not in DELIBERATE for k, _, _ in differences) else 0


if __name__ == "__main__":
    sys.exit(main())
