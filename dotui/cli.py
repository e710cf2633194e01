"""The ``dotui`` command: flags, choosing the engine, choosing the front end.

    dotui                      the TUI (./objects, else the bundled examples; data in ./.dotui)
    dotui repl                 the REPL
    dotui -c CMD [-c CMD ...]  run commands and exit
    dotui run FILE|-           run a script
    dotui serve                the HTTP gateway (default 127.0.0.1:8787)
    dotui serve --cluster N    the same, the objects sharded over N Ray actors (docs/cluster.md)
    dotui recover [--yes]      say what dropping a damaged commit log would lose; drop it

Exit status: 0 all went well, 1 a command failed (or dotui could not start),
2 bad usage (a flag, or a line that is not a command).
"""

from __future__ import annotations

import argparse
import importlib
import os
import stat
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .commands import REGISTRY, ErrorInfo
from .engine.errors import DataFolderError, DurableObjectError, EngineLockedError
from .examples import OBJECTS as BUNDLED_OBJECTS
from .ops import EngineFacade
from .present.formats import relative_path
from .present.render import Renderer, make_console
from .repl.batch import FAILED, OK, USAGE, BatchRunner, Line, lines_of
from .server.limits import add_limit_flags, limits_from_args
from .workers.wrangler import WranglerError
from .workspace import resolve as resolve_workspace

DEFAULTS: dict[str, Any] = {
    "objects": None,  # resolved by workspace.resolve: ./objects, else the bundled examples
    "data": ".dotui",
    "idle": 10.0,
    "json": False,
    "on_error": "stop",
    "connect": None,
    "token": None,
    "serve": None,
    "commands": [],
    "commit_delay": None,
    "check": False,
    "echo": False,
    "lesson": None,
}

EPILOG = """\
examples:
  dotui                                  open the TUI on ./objects (else the bundled examples), data in ./.dotui
  dotui repl                             the REPL: Tab completes, help lists commands
  dotui -c 'Counter/alice.increment(5)' -c 'ls'
  dotui --idle 1 run examples/hibernation.dotui
  echo 'stats' | dotui --json            a pipe is read as a script
  dotui recover --data .dotui            a damaged commit log: what would be dropped (--yes drops it)

shared flags may come before or after the subcommand.
exit status: 0 all went well, 1 a command failed, 2 bad usage.
the command language: dotui -c help, or docs/commands.md.
"""


ATTACH_HINT = (
    "to drive that engine from here as well (two REPLs, a REPL beside the TUI): start the first one "
    "with --serve PORT (e.g. dotui --serve 8787, or dotui serve), then run this one with --connect, "
    "e.g. dotui repl --connect http://127.0.0.1:8787"
)


class StartupError(Exception):
    """dotui cannot start: the message says why and what to do."""


class Unavailable(Exception):
    """A flag or subcommand of a later release."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        hint = ""
        if "invalid choice" in message:
            word = message.split("'")[1] if "'" in message else ""
            if REGISTRY.get(word) is not None or "/" in word:
                hint = f"\nto run a command of the command language: dotui -c {word!r} (or dotui repl)"
        self.print_usage(sys.stderr)
        self.exit(USAGE, f"{self.prog}: error: {message}{hint}\n")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of seconds greater than 0")
    return value


def _delay(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= 10:
        raise argparse.ArgumentTypeError(f"{text!r}: give a commit delay from 0 to 10 seconds")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value < 65536:
        raise argparse.ArgumentTypeError(f"{text!r}: a port is 1-65535 (0 picks a free one)")
    return value


def _shared_flags() -> _Parser:
    """Flags accepted before or after a subcommand (SUPPRESS keeps the later one from erasing the earlier)."""
    p = _Parser(add_help=False)
    g = p.add_argument_group("shared flags")
    s = argparse.SUPPRESS
    g.add_argument(
        "--objects",
        metavar="DIR",
        default=s,
        help="the objects folder (default ./objects, else the examples bundled with dotui)",
    )
    g.add_argument("--data", metavar="DIR", default=s, help="the data folder (default ./.dotui)")
    g.add_argument(
        "--idle", metavar="SECONDS", type=_positive, default=s, help="hibernate objects idle this long (default 10)"
    )
    g.add_argument(
        "--json",
        action="store_true",
        default=s,
        help="batch: print one JSON document per command (see docs/commands.md)",
    )
    g.add_argument(
        "--on-error",
        choices=("stop", "continue"),
        default=s,
        help="batch: stop at the first failed command (default) or go on",
    )
    g.add_argument(
        "--echo",
        action="store_true",
        default=s,
        help="batch: print each command (› line  # file:line) before its result",
    )
    g.add_argument(
        "--connect",
        metavar="URL",
        default=s,
        help="drive the engine of a running `dotui serve` at URL instead of one here",
    )
    g.add_argument(
        "--token",
        metavar="TOKEN",
        default=s,
        help="the token for --connect (default: $DOTUI_TOKEN, else <data>/serve.token)",
    )
    g.add_argument(
        "--commit-delay",
        metavar="SECONDS",
        type=_delay,
        default=s,
        help="hold each commit SECONDS before its fsync, to watch the output gate hold results (⧗)",
    )
    g.add_argument(
        "--serve",
        metavar="PORT",
        type=_port,
        default=s,
        help="TUI or REPL: also serve this engine over HTTP on 127.0.0.1:PORT",
    )
    return p


def build_parser() -> argparse.ArgumentParser:
    shared = _shared_flags()
    parser = _Parser(
        prog="dotui",
        description="A local Durable Objects engine for Python: a TUI, a REPL and scripts to drive it.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[shared],
    )
    parser.add_argument(
        "-c",
        dest="commands",
        metavar="CMD",
        action="append",
        default=argparse.SUPPRESS,
        help="run a command of the command language, then exit (repeatable)",
    )
    sub = parser.add_subparsers(dest="subcommand", metavar="{repl,run,serve,tour,init,recover}", parser_class=_Parser)
    sub.add_parser(
        "repl",
        parents=[shared],
        help="the interactive REPL",
        description="The REPL: Tab completes commands, objects and methods; the toolbar shows the engine; "
        "Ctrl-C cancels a line, Ctrl-D quits. With a pipe on stdin it runs it as a script.",
        epilog="example:\n  dotui repl --objects objects --idle 5\n  dotui> Counter/alice.increment(5)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run = sub.add_parser(
        "run",
        parents=[shared],
        help="run a script of commands (- for stdin)",
        description="Run a script: one command per line; # starts a comment.",
        epilog="example:\n  dotui --idle 1 run examples/hibernation.dotui\n  dotui run - --json < script.dotui",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("file", metavar="FILE", help="the script, or - for stdin")
    serve = sub.add_parser(
        "serve",
        parents=[shared],
        help="the HTTP gateway: every object addressable over HTTP",
        description="Run the engine and serve it over HTTP (on loopback unless --host says otherwise). "
        "The gateway's own routes (/objects/, /fetch/, /ws/, /admin/) need the bearer token written to "
        "<data>/serve.token. In a wrangler project every other path is the project's Worker, public as "
        "under `wrangler dev` (docs/cloudflare.md). See docs/server.md.",
        epilog="example:\n  dotui serve --port 8787\n"
        '  curl -X POST -H "Authorization: Bearer $(cat .dotui/serve.token)" \\\n'
        "       -d '{\"args\": [5]}' http://127.0.0.1:8787/objects/Counter/alice/increment",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tour = sub.add_parser(
        "tour",
        parents=[shared],
        help="the guided tour of the model, in the TUI (t there opens it too)",
        description="One lesson per concept (addressing, one instance per id, interleaving, the input and output "
        "gates, hibernation, alarms, reload, transactions), each run on objects of its own (tour-…) "
        "with real concurrent calls, narrated beside what the screen shows. See docs/tour.md.",
        epilog="examples:\n  dotui tour                 the TUI, the tour open\n"
        "  dotui tour --lesson 3      start at lesson 3\n"
        "  dotui tour --check         run every lesson headless on a scratch data folder; exit 1 if a "
        "claim fails",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tour.add_argument(
        "--check",
        action="store_true",
        help="run every lesson without a screen and check what it narrates (a scratch data folder)",
    )
    tour.add_argument("--lesson", metavar="LESSON", help="start at this lesson (name or number)")
    serve.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1")
    serve.add_argument("--port", type=_port, default=8787, help="default 8787; 0 picks a free port")
    serve.add_argument(
        "--log-requests",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="print a line per request: time, verb, path, status, milliseconds "
        "(default: when the output is a terminal)",
    )
    serve.add_argument(
        "--gc",
        choices=("cpython", "latency"),
        default="cpython",
        help="the garbage collector's policy: cpython (its own thresholds; the default: memory stays flat) or "
        "latency (freeze the heap at start, collect far less often: fewer pauses, more memory; "
        "bench/README.md, Sustained load)",
    )
    add_limit_flags(serve)
    serve.add_argument(
        "--cluster",
        metavar="SHARDS",
        type=_shards,
        default=None,
        help="serve the objects from SHARDS shards on Ray (pip install -e '.[cluster]'), "
        "fixed when the data folder's cluster is created; see docs/cluster.md",
    )
    serve.add_argument(
        "--ray-address",
        metavar="ADDR",
        default=None,
        help="with --cluster: join the Ray cluster at ADDR (default: start a local one)",
    )
    recover = sub.add_parser(
        "recover",
        parents=[shared],
        help="a damaged commit log: say what dropping it would lose, then drop it",
        description="When the engine stops at start because a commit log record is damaged (not a torn\n"
        "last append), this says what recovering would drop: the segment and byte offset, how\n"
        "many records and bytes, which objects lose committed writes. Nothing is changed unless\n"
        "--yes is given: then it keeps the log up to the damage, drops the rest, and replays it\n"
        'into the checkpoints. Stop the engine first. See README.md, "On disk".',
        epilog="example:\n  dotui recover --data .dotui          look: changes nothing\n"
        "  dotui recover --data .dotui --yes    drop the damaged part and recover",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    recover.add_argument("--yes", action="store_true", help="drop what it says, then recover")
    init = sub.add_parser(
        "init",
        help="a new project in DIR: a dotui objects folder, or (--workers) a Cloudflare Python Workers one",
        description="Write a new project into DIR (a new or empty folder; nothing is overwritten): objects/, a test "
        "using dotui's pytest plugin and a README with the two commands. With --workers, a Python "
        "Workers project instead (wrangler.toml, src/entry.py, a test): it runs on dotui and deploys "
        "with Cloudflare's tools unchanged (docs/cloudflare.md).",
        epilog="examples:\n  dotui init demo && cd demo && pytest\n  dotui init edge --workers && cd edge && dotui serve",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    init.add_argument("folder", metavar="DIR", help="the new project's folder")
    init.add_argument("--workers", action="store_true", help="a Cloudflare Python Workers project")
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    for key, value in DEFAULTS.items():
        if not hasattr(args, key):
            setattr(args, key, list(value) if isinstance(value, list) else value)
    return args


# ---------------------------------------------------------------- the engine
def _is_workspace(objects: str) -> bool:
    """An objects folder, or a wrangler file (workspace.py)."""
    return os.path.isdir(objects) or os.path.isfile(objects)


def make_facade(args: argparse.Namespace) -> EngineFacade:
    """The one place choosing the engine: in-process, or a `dotui serve` with --connect.

    Returns a started facade. Raises StartupError (a message for the user) or Unavailable.
    """
    if args.connect:
        from .server.cli import connect

        try:
            return connect(args.connect, args.token, args.data)
        except (PermissionError, ConnectionError, DurableObjectError) as exc:  # the gateway's error, as it said it
            raise StartupError(str(exc)) from None
    if args.token:
        raise Unavailable("--token goes with --connect URL (the gateway it authenticates to)")
    if not _is_workspace(args.objects):
        raise StartupError(
            f"objects folder {args.objects!r} not found: create it and put a DurableObject class "
            f"in a .py file there, or pass --objects DIR"
        )
    from .ops import LocalEngine

    facade = LocalEngine(args.objects, args.data, idle_timeout=args.idle)
    try:
        facade.start()
        if args.commit_delay:
            facade.commit_delay(args.commit_delay)
    except EngineLockedError as exc:
        raise StartupError(f"{exc}.\n{ATTACH_HINT}") from None
    except DataFolderError as exc:
        raise StartupError(str(exc)) from None
    except OSError as exc:
        raise StartupError(
            f"cannot use the data folder {args.data!r}: {exc.strerror or exc}; pass another one with --data DIR"
        ) from None
    return facade


def _tour_check(args: argparse.Namespace, out: Renderer, err: Renderer) -> int:
    """``dotui tour --check``: every lesson on a scratch data folder, stepped forward then back one step at a
    time; 0 if every narrated claim checked out at every arrival."""
    import tempfile

    from .ops import LocalEngine
    from .tour import LESSONS, lesson_named
    from .tour.headless import SteppingNarrator, run_lessons

    if not _is_workspace(args.objects):
        err.notice(f"dotui: error: objects folder {args.objects!r} not found: pass --objects DIR", "red")
        return FAILED
    try:
        lessons = [lesson_named(args.lesson)] if args.lesson else list(LESSONS)
    except ValueError as exc:
        err.notice(f"dotui: error: {exc}", "red")
        return USAGE
    with tempfile.TemporaryDirectory(prefix="dotui-tour-") as scratch:
        with LocalEngine(args.objects, scratch, idle_timeout=min(args.idle, 2.0)) as facade:
            narrator = SteppingNarrator(lambda kind, text: out.tour_line(kind, text))
            ran = run_lessons(facade, lessons, narrator)
    checks = [c for _, _, _, c in narrator.arrivals]  # every claim, at every arrival at its step
    failed = [c for c in checks if not c.ok]
    out.notice(
        f"tour check: {len(checks) - len(failed)} of {len(checks)} claims checked out in {len(ran)} lessons, "
        "each stepped forward and back one step at a time",
        "bold red" if failed else "green",
    )
    return FAILED if failed else OK


# ---------------------------------------------------------------- front ends
def _batch_lines(args: argparse.Namespace) -> list[Line] | Any | None:
    """The lines to run in batch mode, or None for an interactive front end."""
    if args.commands:
        return [Line(c) for c in args.commands]
    if args.subcommand == "run":
        if args.file == "-":
            return lines_of(sys.stdin, "<stdin>")  # bytes, each line capped (repl/batch.py)
        return None  # opened by main, which reports a missing file as bad usage
    if not sys.stdin.isatty():
        return lines_of(sys.stdin, "<stdin>")
    return None


def open_script(path: str):
    """The script at ``path``, opened to read bytes; ValueError if it is not a regular file (a device such
    as /dev/zero, a FIFO, a folder): a script is a file, and stdin is ``-``. Never blocks on a FIFO."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        kind = (
            "a folder"
            if stat.S_ISDIR(mode)
            else "a FIFO"
            if stat.S_ISFIFO(mode)
            else "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "not a file"
        )
        raise ValueError(
            f"the script {path!r} is {kind}, not a regular file: give a script file, or - to "
            f"read one from stdin (dotui run - < {path})"
        )
    return open(path, "rb")


def _run_batch(facade: EngineFacade, args: argparse.Namespace, lines: Any, renderer: Renderer) -> int:
    runner = BatchRunner(
        facade, renderer, json_out=sys.stdout if args.json else None, on_error=args.on_error, echo=args.echo
    )
    for e in facade.load_errors():
        renderer.error(_load_error(e))
        if not runner.fail(FAILED):
            return runner.status
    return runner.run(lines)


def _load_error(text: str):
    return ErrorInfo("LoadError", f"cannot load {relative_path(text)}", "fix the file; the other classes are loaded")


def _run_tui(facade: EngineFacade, args: argparse.Namespace, run_tui: Callable[..., int]) -> int:
    result = run_tui(facade, args)
    return result if isinstance(result, int) else OK


def _tui_entry(err: Renderer) -> Callable[..., int] | None:
    """``dotui.tui.app.run_tui`` if this install has the TUI (Textual); None (after saying so) if not."""
    try:
        module = importlib.import_module("dotui.tui.app")
    except ModuleNotFoundError as exc:
        if exc.name not in ("dotui.tui", "dotui.tui.app", "textual"):
            raise
        err.notice(
            "dotui: the TUI is not available in this install; use `dotui repl` for the REPL "
            "(or `dotui -c CMD`, `dotui run FILE`)",
            "yellow",
        )
        return None
    return module.run_tui


def _shards(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= 256:
        raise argparse.ArgumentTypeError(f"SHARDS must be a whole number from 1 to 256, e.g. --cluster 2; got {text!r}")
    return n


def _serve_cluster(args: argparse.Namespace, err: Renderer) -> int:
    """``dotui serve --cluster SHARDS``: the shards on Ray (docs/cluster.md)."""
    if args.cluster is None:
        err.notice("dotui: error: --ray-address goes with --cluster SHARDS", "red")
        return USAGE
    try:
        from .cluster.serve import serve_cluster_main
    except ImportError as exc:
        err.notice(f"dotui: error: --cluster needs Ray ({exc}): pip install -e '.[cluster]'", "red")
        return FAILED
    return serve_cluster_main(
        args.objects,
        args.data,
        args.cluster,
        args.ray_address,
        args.idle,
        args.host,
        args.port,
        args.token,
        limits=limits_from_args(args),
    )


def _recover_main(args: argparse.Namespace, err: Renderer) -> int:
    """`dotui recover [--yes]`: with the data folder locked, say (and with --yes do) what repair drops."""
    from .engine.durability.lock import DataLock
    from .engine.durability.repair import recover

    data = os.path.realpath(args.data)  # as the engine names it (engine.py)
    lock = DataLock(data)
    try:
        if os.path.isdir(data):
            lock.acquire()
        for line in recover(data, args.yes):
            print(line)
    except (EngineLockedError, DataFolderError) as exc:
        err.notice(f"dotui: error: {exc}", "red")
        return FAILED
    except OSError as exc:
        err.notice(f"dotui: error: cannot repair {data}: {exc}; nothing more was changed", "red")
        return FAILED
    finally:
        lock.release()
    return OK


def _choose_workspace(args: argparse.Namespace, err: Renderer) -> bool:
    """``args.objects`` from the workspace (workspace.py), saying so when the user did not name it;
    False (after saying why) if it is a wrangler file dotui cannot run. The tour's lessons run on the
    bundled examples wherever it is started, unless --objects names a folder."""
    if args.subcommand == "tour" and args.objects is None:
        args.objects = BUNDLED_OBJECTS
    chosen = resolve_workspace(args.objects)
    try:
        chosen.check()
    except WranglerError as exc:
        err.notice(f"dotui: error: {exc}", "red")
        return False
    args.objects = chosen.objects
    notice = chosen.notice(args.data)
    if notice is not None:
        err.notice(notice, "yellow")
    return True


def _init_main(args: argparse.Namespace, out: Renderer, err: Renderer) -> int:
    """``dotui init DIR [--workers]`` (scaffold.py)."""
    from .scaffold import InitError, init

    try:
        written = init(args.folder, args.workers)
    except InitError as exc:
        err.notice(f"dotui: error: {exc}", "red")
        return USAGE
    except OSError as exc:
        err.notice(f"dotui: error: cannot write {args.folder}: {exc.strerror or exc}", "red")
        return FAILED
    for path in written:
        out.notice(f"  wrote {path}")
    kind = (
        "Python Workers project (dotui serve runs it; uv run pywrangler deploy deploys it)"
        if args.workers
        else "dotui project"
    )
    out.notice(f"dotui: a new {kind} in {args.folder}: cd {args.folder} && pytest", "green")
    from importlib.util import find_spec

    missing = [name for name in ("pytest", "pytest_asyncio") if find_spec(name) is None]
    if missing:
        out.notice(
            f"  its tests need {' and '.join(n.replace('_', '-') for n in missing)}, not installed beside dotui: "
            "pip install pytest pytest-asyncio"
        )
    return OK


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    out = Renderer(make_console(sys.stdout, sys.stdout.isatty()), make_console(sys.stderr, sys.stderr.isatty()))
    err = Renderer(out.err)
    if args.subcommand == "recover":
        return _recover_main(args, err)
    if args.subcommand == "init":
        return _init_main(args, out, err)
    if not args.connect and not _choose_workspace(args, err):
        return USAGE
    if args.subcommand == "serve":
        if args.connect:
            err.notice("dotui: error: serve runs an engine here; it does not go with --connect", "red")
            return USAGE
        if not _is_workspace(args.objects):
            err.notice(f"dotui: error: objects folder {args.objects!r} not found: pass --objects DIR", "red")
            return FAILED
        if args.cluster is not None or args.ray_address is not None:
            return _serve_cluster(args, err)
        from .server.cli import serve_main

        return serve_main(
            args.objects,
            args.data,
            args.idle,
            args.host,
            args.port,
            args.token,
            limits=limits_from_args(args),
            log_requests=args.log_requests,
            gc_policy=args.gc,
        )
    if args.subcommand == "tour" and args.check:
        return _tour_check(args, out, err)
    if args.serve is not None and (args.connect or args.commands or args.subcommand == "run"):
        err.notice("dotui: error: --serve PORT goes with the TUI or the REPL of an engine run here", "red")
        return USAGE
    if args.commands and args.subcommand is not None:
        err.notice(f"dotui: error: -c runs commands and exits; it does not go with `{args.subcommand}`", "red")
        return USAGE

    lines = _batch_lines(args)
    script = None
    if lines is None and args.subcommand == "run":
        try:
            script = open_script(args.file)
        except OSError as exc:
            err.notice(f"dotui: error: cannot read the script {args.file!r}: {exc.strerror or exc}", "red")
            return USAGE
        except ValueError as exc:
            err.notice(f"dotui: error: {exc}", "red")
            return USAGE
        lines = lines_of(script, relative_path(os.path.abspath(args.file)))
    run_tui = None
    if lines is None and args.subcommand in (None, "tour"):
        run_tui = _tui_entry(err)
        if run_tui is None:
            return FAILED

    try:
        facade = make_facade(args)
    except Unavailable as exc:
        err.notice(f"dotui: error: {exc}", "red")
        return USAGE
    except StartupError as exc:
        err.notice(f"dotui: error: {exc}", "red")
        return FAILED
    gateway = None
    try:
        if args.serve is not None and lines is None:
            from .server.cli import start_gateway_thread

            try:
                gateway = start_gateway_thread(facade, port=args.serve)
            except OSError as exc:
                err.notice(
                    f"dotui: error: cannot serve on port {args.serve}: {exc.strerror or exc}; "
                    "pick another with --serve PORT",
                    "red",
                )
                return FAILED
            err.notice(f"dotui: serving {gateway.url} (token in {gateway.token_path})", "green")
        if lines is not None:
            return _run_batch(facade, args, lines, out)
        if run_tui is not None:
            return _run_tui(facade, args, run_tui)
        from .repl.prompt import history_for, run_repl

        return run_repl(facade, history=history_for(facade.data_dir))
    except KeyboardInterrupt:
        err.notice("dotui: error: interrupted", "red")
        return FAILED
    except BrokenPipeError:
        # The reader of our output went away (`dotui ... | head`): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return FAILED
    finally:
        if gateway is not None:
            gateway.close()
        facade.close()
        if script is not None:
            script.close()


if __name__ == "__main__":
    sys.exit(main())
