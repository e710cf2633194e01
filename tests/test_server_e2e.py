"""The gateway as a separate process (``python -m dotui.server``), driven over real sockets.

Load: 50 keep-alive HTTP clients x 200 increments on one object. Crash: SIGKILL
in the middle of that load, restart on the same data folder, and every value a
client received is in storage.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time

import aiohttp
import pytest

from dotui.server import ServerUnreachableError, connect
from server_support import ROOT, GatewayProcess, write_server_objects

pytestmark = [pytest.mark.slow]

CLIENTS = 50
PER_CLIENT = 200


@pytest.fixture
def objects(tmp_path):
    return write_server_objects(tmp_path / "objects")


async def _client_loop(url: str, token: str, path: str, n: int, received: list[int]) -> None:
    """One HTTP client: a keep-alive session sending ``n`` calls one after another."""
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1), headers=headers) as session:
        for _ in range(n):
            async with session.post(url + path) as resp:
                assert resp.status == 200, await resp.text()
                received.append((await resp.json())["result"])


def test_the_remote_engine_drives_a_gateway_process(objects, tmp_path):
    data = tmp_path / "data"
    with GatewayProcess(objects, data) as gw:
        with connect(gw.url, data=str(data)) as remote:
            sub = remote.subscribe()
            assert remote.call("Counter", "alice", "increment", [2]) == 2
            remote.storage_put("Counter", "alice", "note", "hi")
            assert remote.read_storage("Counter", "alice")["values"] == {"n": 2, "note": "hi"}
            assert [ns["name"] for ns in remote.namespaces()] == ["Counter", "Ledger", "Web"]
            assert remote.data_dir == str(data)
            deadline = time.monotonic() + 10
            events = []
            while not any(e["type"] == "call.finished" for e in events) and time.monotonic() < deadline:
                events += sub.drain()
                time.sleep(0.02)
            assert any(e["type"] == "call.finished" and e["result"] == 2 for e in events)
        assert gw.stop() == 0  # SIGTERM is a clean stop
        assert not (data / "serve.token").exists()
    with GatewayProcess(objects, data) as gw:  # the data survived, under a new token
        with connect(gw.url, data=str(data)) as remote:
            assert remote.call("Counter", "alice", "peek") == 2


def test_fifty_keep_alive_clients_count_to_ten_thousand_exactly(objects, tmp_path):
    with GatewayProcess(objects, tmp_path / "data") as gw:
        received: list[int] = []

        async def load():
            await asyncio.gather(
                *(
                    _client_loop(gw.url, gw.token, "/objects/Counter/shared/increment", PER_CLIENT, received)
                    for _ in range(CLIENTS)
                )
            )

        asyncio.run(load())
        assert len(received) == CLIENTS * PER_CLIENT
        assert sorted(received) == list(range(1, CLIENTS * PER_CLIENT + 1))  # distinct: one instance, in turn
        with connect(gw.url, token=gw.token) as remote:
            assert remote.call("Counter", "shared", "peek") == 10_000
            assert len(remote.instances("Counter")) == 1


def test_every_value_a_client_received_survives_a_sigkill(objects, tmp_path):
    data = tmp_path / "data"
    received: list[int] = []
    gw = GatewayProcess(objects, data)
    try:

        async def load_then_kill():
            async def client():
                try:
                    await _client_loop(gw.url, gw.token, "/objects/Ledger/book/append", PER_CLIENT, received)
                except (aiohttp.ClientError, OSError):
                    pass  # the gateway died under us: what this test is about

            tasks = [asyncio.ensure_future(client()) for _ in range(CLIENTS)]
            while len(received) < 2_000 and not all(t.done() for t in tasks):
                await asyncio.sleep(0.005)
            gw.kill()  # SIGKILL, mid-load: no shutdown code runs
            await asyncio.gather(*tasks)

        asyncio.run(load_then_kill())
    finally:
        gw.kill()
    assert 2_000 <= len(received) < CLIENTS * PER_CLIENT, "the kill must land in the middle of the load"
    assert len(set(received)) == len(received)
    with GatewayProcess(objects, data) as gw2, connect(gw2.url, data=str(data)) as remote:
        assert remote.call("Ledger", "book", "count") >= max(received)
        missing = []
        ordered = sorted(received)
        for i in range(0, len(ordered), 2_000):
            missing += remote.call("Ledger", "book", "missing", [ordered[i : i + 2_000]])
        assert missing == []


def test_a_lost_gateway_is_a_clear_error_and_a_restart_is_picked_up(objects, tmp_path):
    data = tmp_path / "data"
    gw = GatewayProcess(objects, data)
    remote = connect(gw.url, data=str(data))
    try:
        assert remote.call("Counter", "alice", "increment") == 1
        gw.kill()
        with pytest.raises(ServerUnreachableError) as caught:
            remote.stats()
        assert f"cannot reach dotui serve at {gw.url}" in str(caught.value)
        assert "is it running?" in str(caught.value)
        with pytest.raises(ConnectionError):
            remote.call("Counter", "alice", "increment")
        gw = GatewayProcess(objects, data, gw.port)  # same port, new token in <data>/serve.token
        assert remote.call("Counter", "alice", "increment") == 2
    finally:
        remote.close()
        gw.stop()


def test_a_second_gateway_on_the_same_data_says_who_holds_it(objects, tmp_path):
    data = tmp_path / "data"
    with GatewayProcess(objects, data) as gw:
        token_before = gw.token
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.run(
            [sys.executable, "-m", "dotui.server", "--objects", str(objects), "--data", str(data), "--port", "0"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert proc.returncode == 1
        assert f"pid {gw.proc.pid}" in proc.stderr and "Traceback" not in proc.stderr
        assert gw.token == token_before  # the refused one did not replace the token


def test_a_taken_port_is_a_message_not_a_traceback(objects, tmp_path):
    with GatewayProcess(objects, tmp_path / "a") as gw:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "dotui.server",
                "--objects",
                str(objects),
                "--data",
                str(tmp_path / "b"),
                "--port",
                str(gw.port),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert proc.returncode == 1
        assert f"cannot listen on 127.0.0.1:{gw.port}" in proc.stderr and "--port" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_another_host_prints_a_warning(objects, tmp_path):
    with GatewayProcess(objects, tmp_path / "data", 0, "--host", "0.0.0.0") as gw:
        with connect(gw.url, data=str(tmp_path / "data")) as remote:
            assert remote.call("Counter", "a", "increment") == 1
        assert gw.stop() == 0
    assert "warning: serving on 0.0.0.0, not loopback" in gw.stderr
    with GatewayProcess(objects, tmp_path / "data") as gw:
        gw.stop()
    assert "warning" not in gw.stderr


def _cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "dotui.cli", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


def test_dotui_c_connect_drives_the_gateway(objects, tmp_path):
    data = tmp_path / "data"
    with GatewayProcess(objects, data) as gw:
        proc = _cli(
            "--connect",
            gw.url,
            "--data",
            str(data),
            "--json",
            "-c",
            "call Counter/alice increment 5",
            "-c",
            "storage Counter/alice",
        )
        assert proc.returncode == 0, proc.stderr
        docs = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
        assert docs[0] == {
            "command": "call",
            "input": "call Counter/alice increment 5",
            "ok": True,
            "result": 5,
            "error": None,
        }
        assert docs[1]["result"]["values"] == {"n": 5}
        with connect(gw.url, data=str(data)) as remote:
            assert remote.call("Counter", "alice", "peek") == 5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dotui_serve_is_the_gateway(objects, tmp_path):
    data = tmp_path / "data"
    gw = GatewayProcess(objects, data, _free_port(), command=("-m", "dotui.cli", "serve"))
    with gw, connect(gw.url, data=str(data)) as remote:
        assert remote.call("Counter", "alice", "increment", [3]) == 3
        assert gw.stop() == 0
