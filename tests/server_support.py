"""For the gateway tests: the objects they serve, a gateway in a subprocess, and a pair of facades."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SERVER_OBJECTS = {
    "counter": """
        import asyncio
        from dotui import DurableObject

        class Counter(DurableObject):
            \"\"\"Counts.\"\"\"

            async def increment(self, by: int = 1) -> int:
                n = self.ctx.storage.get("n", 0) + by
                self.ctx.storage.put("n", n)
                return n

            def peek(self) -> int:
                return self.ctx.storage.get("n", 0)

            def echo(self, *args, **kwargs):
                return {"args": list(args), "kwargs": kwargs}

            def fail(self, message):
                raise ValueError(message)

            async def slow(self, seconds):
                await asyncio.sleep(seconds)
                self.ctx.storage.put("slow_done", True)
                return "done"

            async def hold(self, seconds):
                await self.ctx.block_concurrency_while(lambda: asyncio.sleep(seconds))
                return "held"

            async def within(self, limit, seconds):
                async with asyncio.timeout(limit):
                    await asyncio.sleep(seconds)
                return "in time"

            async def ask_nowhere(self):
                return await self.env.Nope.get_by_name("x").anything()

            def _private(self):
                return "secret"

            async def alarm(self, info):
                self.ctx.storage.put("alarm_fired", True)
    """,
    "ledger": """
        from dotui import DurableObject

        class Ledger(DurableObject):
            \"\"\"Numbers its calls; each number is also kept under a key of its own.\"\"\"

            async def append(self) -> int:
                n = self.ctx.storage.get("n", 0) + 1
                self.ctx.storage.put({"n": n, f"v/{n:06d}": n})
                return n

            def count(self) -> int:
                return self.ctx.storage.get("n", 0)

            def missing(self, numbers: list) -> list:
                keys = [f"v/{v:06d}" for v in numbers]
                found = {}
                for i in range(0, len(keys), 128):
                    found.update(self.ctx.storage.get(keys[i:i + 128]))
                return [v for v, k in zip(numbers, keys) if k not in found]
    """,
    "web": """
        import base64
        from dotui import DurableObject

        class Web(DurableObject):
            \"\"\"Answers raw HTTP requests.\"\"\"

            async def fetch(self, request):
                path = request["path"]
                self.ctx.storage.put("last_path", path)
                if path == "/echo":
                    return {"status": 200, "headers": {"X-Seen": request["method"]}, "body": request}
                if path == "/text":
                    return "hello " + request["query"].get("name", "?")
                if path == "/binary":
                    return {"status": 201, "headers": {"Content-Type": "application/octet-stream"},
                            "body": base64.b64encode(bytes(range(256))).decode(), "body_base64": True}
                if path == "/bad":
                    return 42
                if path == "/bad-status":
                    return {"status": 99, "body": "?"}
                if path == "/boom":
                    raise RuntimeError("boom at " + path)
                return {"status": 404, "body": "no page " + path}
    """,
}


# ---------------------------------------------------------------- a raw HTTP client
def read_answer(sock: socket.socket, buf: bytes = b"") -> tuple[tuple[int, dict, bytes] | None, bytes]:
    """One response from ``sock`` (None if it closed first): (status, headers, body), and the bytes after it."""
    while b"\r\n\r\n" not in buf:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return None, b""
        if not chunk:
            return None, b""
        buf += chunk
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(buf) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed mid-body"
        buf += chunk
    return (int(lines[0].split()[1]), headers, buf[:length]), buf[length:]


# ---------------------------------------------------------------- a gateway in a subprocess
ROOT = Path(__file__).resolve().parent.parent


def write_server_objects(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in SERVER_OBJECTS.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(source))
    return folder


class GatewayDidNotStart(RuntimeError):
    pass


class GatewayProcess:
    """``python -m dotui.server`` in a subprocess; ``.url`` is read from its first line."""

    def __init__(
        self, objects: Path, data: Path, port: int = 0, *extra: str, command: tuple[str, ...] = ("-m", "dotui.server")
    ):
        env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                *command,
                "--objects",
                str(objects),
                "--data",
                str(data),
                "--port",
                str(port),
                "--idle",
                "60",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=str(ROOT),
        )
        first = self.proc.stdout.readline()
        m = re.match(r"dotui serve: (http://\S+)", first)
        if not m:
            self.proc.kill()
            self.proc.wait(30)
            raise GatewayDidNotStart(f"the gateway did not start: {first!r} {self.proc.stderr.read()!r}")
        self.url = m.group(1)
        self.port = int(self.url.rsplit(":", 1)[1])
        self.data = data
        self.stderr = ""  # what it printed there, once stopped

    @property
    def token(self) -> str:
        return (self.data / "serve.token").read_text().strip()

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> int:
        """SIGTERM: a clean stop; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        status = self.proc.wait(30)
        if not self.proc.stderr.closed:
            self.stderr = self.proc.stderr.read()
            self.proc.stdout.close()
            self.proc.stderr.close()
        return status

    def __enter__(self) -> GatewayProcess:
        return self

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            self.stop()


@contextlib.contextmanager
def local_and_remote(objects: str, folder: Path, **options: Any) -> Iterator[dict[str, Any]]:
    """{"local": a LocalEngine, "remote": a RemoteEngine to a gateway on a thread}: two engines on the same
    ``objects``, each over a data folder of its own below ``folder``, closed at the end."""
    from dotui.ops import LocalEngine
    from dotui.server import connect, start_gateway_thread

    local = LocalEngine(objects, str(folder / "local"), **options).start()
    served = LocalEngine(objects, str(folder / "served"), **options).start()
    gateway = start_gateway_thread(served, "127.0.0.1", 0)
    remote = connect(gateway.url, data=str(folder / "served"))
    try:
        yield {"local": local, "remote": remote}
    finally:
        remote.close()
        gateway.close()
        served.close()
        local.close()
