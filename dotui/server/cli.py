"""Starting and reaching the gateway: ``dotui serve``, the TUI's ``--serve PORT``, ``--connect URL``.

- ``serve_main(objects, data, idle, host, port, token=None)``: run an engine and
  its gateway in this process until Ctrl-C or SIGTERM; returns the exit status.
- ``start_gateway_thread(local_engine, host, port)``: serve a running
  ``LocalEngine`` (the TUI's) on its own loop; ``.close()`` stops serving.
- ``connect(url, token=None, data=None)``: a started ``RemoteEngine``.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import ipaddress
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from ..engine import Engine
from ..engine.durability.slowcommit import SlowCommitLog
from ..engine.errors import DataFolderError, EngineLockedError
from ..ops.remote import RemoteEngine
from . import gcpolicy
from .app import ADMIN, JsonErrorsHandler, make_app
from .auth import find_token, new_token, remove_token, write_token
from .fast import FastCalls
from .limits import MAX_FIELD, MAX_HEADERS, MAX_LINE, READ_BUFSIZE, Limits, with_max_body

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
SHUTDOWN_SECONDS = 10.0
ACCEPTS_PER_TURN = 128  # connections asyncio accepts in one turn of the loop
LISTEN_BACKLOG = 4096  # connections the kernel queues before they are accepted (capped by net.core.somaxconn)
ACCEPT_ERROR_INTERVAL = 10.0  # seconds between two reports of the accept loop failing (out of file descriptors)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str) -> str | None:
    """What to tell the user when the gateway listens beyond this machine; None on loopback."""
    if is_loopback(host):
        return None
    return (
        f"warning: serving on {host}, not loopback: anyone who can reach this address and has the token "
        "can call every method and edit every object's storage; serve on 127.0.0.1 unless you mean it"
    )


def url_for(host: str, port: int) -> str:
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1" if host != "::" else "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@dataclass
class RunningGateway:
    """A gateway that is serving: where, with which token, and how to stop it."""

    url: str
    host: str
    port: int
    token: str
    token_path: str
    warning: str | None
    _runner: web.AppRunner = field(repr=False)
    _data: str = field(repr=False)
    _server: asyncio.AbstractServer = field(repr=False)
    _fast: FastCalls = field(repr=False)
    _accept_errors: AcceptErrors = field(repr=False)
    _submit: Callable[[Any], Any] | None = field(default=None, repr=False)

    async def stop(self) -> None:
        """Stop accepting requests, let the ones in flight finish, end event streams, remove the token file.

        Every connection ends, a client that stops reading included (its close could never complete):
        no connection task is left pending."""
        self._server.close()
        await self._fast.stop(SHUTDOWN_SECONDS)
        await self._runner.cleanup()
        await self._fast.abort_all()
        self._accept_errors.remove()
        remove_token(self._data, self.token)

    def close(self) -> None:
        """``stop()`` from another thread (for ``start_gateway_thread``)."""
        if self._submit is None:
            raise RuntimeError("this gateway runs on your loop: await gateway.stop() there")
        self._submit(self.stop()).result(SHUTDOWN_SECONDS + 5)


async def start_gateway(
    engine: Engine,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    token: str | None = None,
    *,
    max_body: int | None = None,
    limits: Limits | None = None,
    log: Callable[[str, str, int, float], None] | None = None,
    admin: Any = None,
) -> RunningGateway:
    """Serve a started ``engine`` (on the running loop); writes the token to ``<data>/serve.token``.

    Port 0 picks a free port (see ``.port``). Raises OSError if the address is taken.
    ``limits``: the gateway's bounds (``limits.py``; ``max_body`` overrides that one of them).
    ``log(verb, path, status, seconds)`` hears of every request answered (``dotui serve`` prints them).
    ``admin``: the operations to serve instead of ``Admin(engine)`` (a cluster's, docs/cluster.md).
    """
    token = token or new_token()
    limits = with_max_body(limits, max_body)
    app = make_app(engine, token, limits=limits, admin=admin)
    access: dict[str, Any] = (
        {"access_log_class": _RequestLog, "access_log": _log_target(log)} if log is not None else {"access_log": None}
    )
    # The parser limits are fast.py's too (FastCalls.parser): one grammar for both paths.
    handler: dict[str, Any] = {
        "keepalive_timeout": limits.keepalive_timeout,
        "max_line_size": MAX_LINE,
        "max_field_size": MAX_FIELD,
        "max_headers": MAX_HEADERS,
        "read_bufsize": READ_BUFSIZE,
        **access,
    }
    runner = web.AppRunner(app, shutdown_timeout=SHUTDOWN_SECONDS, **handler)
    await runner.setup()
    web_server, loop = runner.server, asyncio.get_running_loop()
    assert web_server is not None  # set by setup()
    # Object calls are answered by the fast path (fast.py); every other request by the app.
    fast = FastCalls(app[ADMIN], token, limits, lambda: JsonErrorsHandler(web_server, loop=loop, **handler))
    fast.log = log
    accept_errors = AcceptErrors(asyncio.get_running_loop())
    try:
        # asyncio accepts up to `backlog` connections a turn of the loop (fast.py's cap on connections
        # without the token sorts them out after): a modest number, so a flood cannot take every file
        # descriptor in one turn; the kernel's queue is made deeper, so a flood of connects is queued
        # rather than dropped alongside a token holder's.
        server = await asyncio.get_running_loop().create_server(fast, host, port, backlog=ACCEPTS_PER_TURN)
        for listening in server.sockets:
            with socket.socket(fileno=os.dup(listening.fileno())) as same:
                same.listen(LISTEN_BACKLOG)
    except BaseException:
        accept_errors.remove()
        await runner.cleanup()
        raise
    bound = server.sockets[0].getsockname()[1]
    path = write_token(engine.data_dir, token)
    return RunningGateway(
        url_for(host, bound),
        host,
        bound,
        token,
        path,
        exposure_warning(host),
        runner,
        engine.data_dir,
        server,
        fast,
        accept_errors,
    )


class AcceptErrors:
    """The loop's exception handler while a gateway serves: asyncio reports every failed ``accept()``
    (out of file descriptors: up to 100 reports a turn of the loop); this passes on the first, then one
    per ``ACCEPT_ERROR_INTERVAL`` saying how many it held back. Every other report goes to the handler
    that was there before."""

    MESSAGE = "socket.accept() out of system resource"

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.previous = loop.get_exception_handler()
        self.last = -ACCEPT_ERROR_INTERVAL
        self.held = 0
        loop.set_exception_handler(self)

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") == self.MESSAGE:
            now = time.monotonic()
            if now - self.last < ACCEPT_ERROR_INTERVAL:
                self.held += 1
                return
            self.last = now
            if self.held:
                context = {
                    **context,
                    "message": f"{self.MESSAGE} ({self.held} more like it in the last "
                    f"{ACCEPT_ERROR_INTERVAL:g} s not shown)",
                }
                self.held = 0
        if self.previous is not None:
            self.previous(loop, context)
        else:
            loop.default_exception_handler(context)

    def remove(self) -> None:
        if self.loop.get_exception_handler() is self:
            self.loop.set_exception_handler(self.previous)


class _RequestLog(AbstractAccessLogger):
    """aiohttp's access log, as one ``log(verb, path, status, seconds)`` call per request."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.dotui_log(request.method, request.path, response.status, time)  # type: ignore[attr-defined]  # aiohttp hands the access-log class only a Logger: _log_target put the callback on it


def _log_target(log: Callable[[str, str, int, float], None]) -> logging.Logger:
    """A logger object carrying ``log`` (aiohttp hands the access-log class a logger)."""
    logger = logging.getLogger("dotui.serve.requests")
    logger.dotui_log = log  # type: ignore[attr-defined]  # the callback rides on the Logger aiohttp hands _RequestLog
    return logger


def request_printer(out: TextIO) -> Callable[[str, str, int, float], None]:
    """``15:04:05 POST /objects/Counter/alice/increment 200 1.2 ms`` on ``out``, one line per request.

    The path is a client's text: its control characters (C0, DEL, C1) and lone surrogates are
    printed escaped (``\\x1b``), never sent to the terminal."""

    def log(verb: str, path: str, status: int, seconds: float) -> None:
        print(
            f"{_dt.datetime.now().strftime('%H:%M:%S')} {_printable(verb)} {_printable(path)} {status} "
            f"{seconds * 1000:.1f} ms",
            file=out,
            flush=True,
        )

    return log


def _printable(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape", "backslashreplace").decode("ascii") for c in text
    )


def start_gateway_thread(
    local_engine: Any,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    token: str | None = None,
    *,
    max_body: int | None = None,
    limits: Limits | None = None,
) -> RunningGateway:
    """Serve a started ``LocalEngine`` over HTTP from its own engine thread (the TUI's ``--serve PORT``).

    The gateway runs on the engine's loop, beside the engine, so it costs no
    thread of its own. ``.url``, ``.token_path`` and ``.warning`` (None on
    loopback) are for the UI to show; call ``.close()`` before the engine's
    ``close()``. Raises OSError if the port is taken.
    """
    gw = local_engine.run(start_gateway(local_engine.engine, host, port, token, max_body=max_body, limits=limits))
    gw._submit = local_engine.submit
    return gw


def connect(url: str | None = None, token: str | None = None, data: str | None = None) -> RemoteEngine:
    """A started ``RemoteEngine`` for the gateway at ``url``.

    The token is ``token``, else ``$DOTUI_TOKEN``, else the one ``dotui serve``
    wrote in ``<data>/serve.token`` (``data`` defaults to ``.dotui``). Raises
    ``TokenNotFound``/``GatewayAuthError`` (PermissionError) or
    ``ServerUnreachableError`` (ConnectionError) with a message saying what to do.
    """
    url = url or f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
    if token:
        return RemoteEngine(url, token).start()
    return RemoteEngine(url, find_token(None, data), token_loader=lambda: find_token(None, data)).start()


# ================================================================ dotui serve
def serve_main(
    objects: str = "objects",
    data: str = ".dotui",
    idle: float | None = None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    token: str | None = None,
    *,
    max_body: int | None = None,
    limits: Limits | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    log_requests: bool | None = None,
    gc_policy: str = "cpython",
) -> int:
    """``dotui serve``: the engine and its gateway in this process until Ctrl-C or SIGTERM.

        The first line on ``out`` is ``dotui serve: <URL>``; then one line per request answered
        (``log_requests``; by default when ``out`` is a terminal, since a pipe nobody reads would
        fill and stall the gateway). ``gc_policy`` "latency" applies gcpolicy.py once the engine has
    started (fewer collector pauses, more memory held); "cpython" leaves CPython's. Returns 0 after a clean stop, 1 if the engine or the gateway
        could not start (the reason on ``err``).
    """
    out = out or sys.stdout
    err = err or sys.stderr
    if log_requests is None:
        log_requests = _is_terminal(out)
    try:
        return asyncio.run(
            _serve(
                objects,
                data,
                10.0 if idle is None else idle,
                host,
                port,
                token,
                with_max_body(limits, max_body),
                out,
                err,
                request_printer(out) if log_requests else None,
                gc_policy,
            )
        )
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown
        return 130


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


async def _serve(
    objects: str,
    data: str,
    idle: float,
    host: str,
    port: int,
    token: str | None,
    limits: Limits,
    out: TextIO,
    err: TextIO,
    log: Callable[[str, str, int, float], None] | None = None,
    gc_policy: str = "cpython",
) -> int:
    engine = Engine(objects, data, idle_timeout=idle, log_class=SlowCommitLog)  # commit_delay works here too
    try:
        await engine.start()
    except (EngineLockedError, DataFolderError, OSError) as exc:
        print(f"dotui serve: cannot start the engine: {exc}", file=err)
        return 1
    try:
        gw = await start_gateway(engine, host, port, token, limits=limits, log=log)
    except OSError as exc:
        print(
            f"dotui serve: cannot listen on {host}:{port} ({exc.strerror or exc}); "
            f"pick another --port, or stop what uses it",
            file=err,
        )
        await engine.close()
        return 1
    announce(engine, gw, out, err)
    # "latency": no full collection in every window of a load, at a cost in memory (gcpolicy.py)
    collector = gcpolicy.settle_after_start() if gc_policy == "latency" else None
    try:
        await until_stopped()
    finally:
        if collector is not None:
            gcpolicy.restore(collector)
        print("dotui serve: stopping (finishing calls in flight, making every write durable)", file=err, flush=True)
        await gw.stop()
        await engine.close()
    return 0


def announce(engine: Engine, gw: RunningGateway, out: TextIO, err: TextIO) -> None:
    names = [ns["name"] for ns in engine.namespaces()]
    example = _example_call(engine)
    print(f"dotui serve: {gw.url}", file=out)
    print(f"  objects  {engine.objects_dir} ({', '.join(names) or 'no DurableObject classes'})", file=out)
    print(f"  data     {engine.data_dir}", file=out)
    print(
        f"  token    written to {gw.token_path} (mode 0600); `--connect {gw.url}` finds it there "
        f"when --data points at this data folder, or pass --token",
        file=out,
    )
    if example:
        print(f'  try      curl -X POST -H "Authorization: Bearer $(cat {gw.token_path})" {gw.url}{example}', file=out)
    print("  Ctrl-C stops it.", file=out, flush=True)
    for e in engine.load_errors:
        print(f"dotui serve: could not load {e}", file=err)
    if gw.warning:
        print(f"dotui serve: {gw.warning}", file=err)
    err.flush()


def _example_call(engine: Engine) -> str | None:
    namespaces = engine.namespaces()
    for ns in namespaces:
        if ns["name"] == "Counter" and any(m["name"] == "increment" for m in ns["methods"]):
            return "/objects/Counter/alice/increment"
    for ns in namespaces:
        if ns["methods"]:
            return f"/objects/{ns['name']}/alice/{ns['methods'][0]['name']}"
    return None


async def until_stopped() -> None:
    """Return on SIGINT or SIGTERM (Ctrl-C, or a service manager's stop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
