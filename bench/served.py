"""A real ``dotui serve`` in a subprocess, and what the long-run and attack harnesses read of it.

``Served(objects, data, idle=..., extra=[...], nofile=1024)`` starts
``dotui serve`` on a free port (``nofile``: the soft and hard limit of
open files, set in the child before it starts, as ``ulimit -n`` would), reads its
URL from the first line and its token from ``<data>/serve.token``. Its stderr
goes to a file (``stderr_bytes()``: how much it has written there). Figures read
from ``/proc/PID``: ``rss()``, ``peak_rss()`` / ``reset_peak()`` (VmHWM, reset
through ``clear_refs``), ``open_files()``, ``threads()``, ``cpu_seconds()``. ``stop()`` is SIGTERM
(a clean stop) and returns the exit status; ``kill()`` is SIGKILL.

``serve_flags()`` reads ``dotui serve --help``: the flags it takes, with the
default each one's help states, so a harness can use a bound as soon as the
gateway documents it.
"""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


# The ``dotui`` console script, run with this interpreter (so PYTHONPATH picks the tree under test).
DOTUI = [sys.executable, "-c", "import sys; from dotui.cli import main; sys.exit(main())"]


def serve_help() -> str:
    return subprocess.run(
        [*DOTUI, "serve", "--help"], capture_output=True, text=True, env=child_env(), timeout=60
    ).stdout


def serve_flags(text: str | None = None) -> dict[str, str | None]:
    """``{"--flag": default or None}`` for every flag ``dotui serve --help`` lists (default: "(default N)" in its help)."""
    text = serve_help() if text is None else text
    flags: dict[str, str | None] = {}
    for m in re.finditer(r"^\s{2}(--[a-z][a-z0-9-]*)(.*(?:\n\s{6,}\S.*)*)", text, re.M):
        default = re.search(r"default:?\s+([0-9][0-9_,.]*)", m.group(2))
        flags[m.group(1)] = default.group(1).replace(",", "").replace("_", "") if default else None
    return flags


class GatewayDidNotStart(RuntimeError):
    pass


class Served:
    """One ``dotui serve`` process; see the module docstring."""

    def __init__(
        self,
        objects: Path,
        data: Path,
        *,
        idle: float = 10.0,
        extra: list[str] | None = None,
        nofile: int | None = None,
        start_timeout: float = 120.0,
    ):
        self.data = Path(data)
        self.err_path = Path(tempfile.mkstemp(prefix="dotui-serve-", suffix=".stderr")[1])
        self._err = open(self.err_path, "wb")
        preexec = None
        if nofile is not None:

            def preexec() -> None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.proc = subprocess.Popen(
            [
                *DOTUI,
                "serve",
                "--objects",
                str(objects),
                "--data",
                str(data),
                "--port",
                "0",
                "--idle",
                str(idle),
                "--no-log-requests",
                *(extra or []),
            ],
            stdout=subprocess.PIPE,
            stderr=self._err,
            env=child_env(),
            cwd=str(ROOT),
            preexec_fn=preexec,
        )
        self.pid = self.proc.pid
        self.started_in = self._read_url(start_timeout)
        self.token = (self.data / "serve.token").read_text().strip()

    def _read_url(self, timeout: float) -> float:
        t0 = time.monotonic()
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        first = b""
        while not first.endswith(b"\n") and time.monotonic() - t0 < timeout:
            if sel.select(timeout=1.0):
                chunk = os.read(self.proc.stdout.fileno(), 1)
                if not chunk:
                    break
                first += chunk
        sel.close()
        m = re.match(rb"dotui serve: (http://\S+)", first)
        if not m:
            self.kill()
            raise GatewayDidNotStart(f"dotui serve did not start: {first!r}; stderr: {self.stderr_tail()}")
        self.url = m.group(1).decode()
        self.port = int(self.url.rsplit(":", 1)[1])
        # Nobody reads the rest of stdout: it is a few lines (--no-log-requests), far below a pipe's buffer.
        return time.monotonic() - t0

    # ------------------------------------------------------------ figures from /proc
    def _status(self, field: str) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            m = re.search(rf"^{field}:\s+(\d+)", f.read(), re.M)
        return int(m.group(1)) if m else 0

    def rss(self) -> int:
        """Resident memory now, in bytes."""
        return self._status("VmRSS") * 1024

    def peak_rss(self) -> int:
        """The highest resident memory since start or the last ``reset_peak()``, in bytes."""
        return self._status("VmHWM") * 1024

    def reset_peak(self) -> None:
        with open(f"/proc/{self.pid}/clear_refs", "w") as f:
            f.write("5")

    def cpu_seconds(self) -> float:
        """User and system CPU time the server has used so far."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def open_files(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def threads(self) -> int:
        return self._status("Threads")

    def stderr_bytes(self) -> int:
        return self.err_path.stat().st_size

    def stderr_tail(self, n: int = 2000) -> str:
        try:
            data = self.err_path.read_bytes()
        except OSError:
            return ""
        return data[-n:].decode("utf-8", "replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    # ------------------------------------------------------------ stopping
    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM and wait; the exit status, or None if it did not stop in ``timeout`` (then it is killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            status = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            status = None
        self._close_files()
        return status

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self._close_files()

    def _close_files(self) -> None:
        if self.proc.stdout and not self.proc.stdout.closed:
            self.proc.stdout.close()
        if not self._err.closed:
            self._err.close()

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            self.stop()


def raise_own_file_limit(want: int) -> int:
    """Raise this process's soft limit of open files towards ``want`` (the hard limit caps it); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def percentile(sorted_values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of an already sorted list, nearest rank; 0.0 for an empty one."""
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, max(0, int(q * len(sorted_values) + 0.5) - 1))]
