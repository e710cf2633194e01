"""Every command of the command language (docs/commands.md), registered once.

Each returns JSON-compatible data; rendering it is the front end's job. Each
uses only the facade interface, so it works the same against the in-process
engine and a remote one.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from ..engine.rows import InstanceRow
from ..ops.admin import parse_when
from ..tour.lessons import LESSONS as _TOUR_LESSONS
from .parsing import ParseError, Ref, did_you_mean, format_ref
from .registry import Arg, Kind, Option, Registry
from .runner import CommandError, Context

REGISTRY = Registry()
command = REGISTRY.command

WATCH_KEEP = 10_000  # events kept in watch's result; the count goes on
WS_LISTEN = 1.0  # seconds ws listens after --send


# ---------------------------------------------------------------- helpers
def _namespace_names(ctx: Context) -> list[str]:
    return [ns["name"] for ns in ctx.facade.namespaces()]


def _check_namespace(ctx: Context, name: str) -> None:
    names = _namespace_names(ctx)
    if name not in names:
        raise CommandError(
            f"no namespace {name!r}; namespaces: {', '.join(names) or '(none)'}",
            did_you_mean(name, names) or "classes lists the namespaces",
        )


def existing_instance(ctx: Context, ref: Ref) -> InstanceRow:
    """The instance a reference names; CommandError (with the closest name) if it never existed."""
    info = ctx.facade.instance(ref.namespace, ref.ref)
    if info.get("state") != "unknown":
        return info
    names = [name for i in ctx.facade.instances(ref.namespace) if (name := i.get("name")) is not None]
    hint = did_you_mean(ref.ref, names) or f"ls {ref.namespace} lists its objects"
    raise CommandError(
        f"no {ref.namespace} object named {ref.ref!r} yet; an object comes to exist at its first call", hint
    )


def _label(info: InstanceRow) -> str:
    return format_ref(info["namespace"], info.get("name"), info["id"])


def iso_time(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return _dt.datetime.fromtimestamp(epoch, _dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _validate_when(text: str) -> None:
    """Refuse a WHEN the one reader of alarm times refuses, before touching the object."""
    try:
        parse_when(text)
    except ValueError as exc:
        raise ParseError(
            str(exc),
            "give +SECONDS (e.g. +30), an ISO time (e.g. 2026-12-01T09:00:00Z) or epoch "
            "seconds, between 0001-01-02 and 9999-12-30 (UTC)",
        ) from None


# ---------------------------------------------------------------- describing
@command(
    "classes",
    aliases=("namespaces",),
    summary="the namespaces (DurableObject classes), their methods and docs",
    usage="classes [NS]",
    args=(Arg("namespace", Kind.NAMESPACE, optional=True, help="only this namespace"),),
    examples=("classes", "classes Counter"),
    details="Also lists the class files that could not be loaded, with file and line.",
)
def classes(ctx: Context, namespace: str | None = None) -> dict[str, Any]:
    spaces = ctx.facade.namespaces()
    if namespace is not None:
        _check_namespace(ctx, namespace)
        spaces = [ns for ns in spaces if ns["name"] == namespace]
    return {"namespaces": spaces, "load_errors": ctx.facade.load_errors()}


LS_PAGE = 50


@command(
    "ls",
    aliases=("list",),
    summary="objects, live or hibernated: state, queue, calls, storage size, alarm",
    usage="ls [NS] [--live|--hibernated] [--page N|--all]",
    args=(Arg("namespace", Kind.NAMESPACE, optional=True, help="only this namespace"),),
    options=(
        Option("--live", "live", help="only live objects"),
        Option("--hibernated", "hibernated", help="only hibernated objects"),
        Option("--page", "page", kind=Kind.COUNT, help=f"page N of {LS_PAGE} objects (default 1)"),
        Option("--all", "all", help="every object, not one page"),
    ),
    examples=("ls", "ls Counter --live", "ls --page 2"),
    details=f"Objects are listed by namespace, then name, {LS_PAGE} to a page. Reads no object file and wakes nothing.",
)
def ls(
    ctx: Context,
    namespace: str | None = None,
    live: bool = False,
    hibernated: bool = False,
    page: int | None = None,
    all: bool = False,
) -> dict[str, Any]:
    if live and hibernated:
        raise ParseError("ls takes --live or --hibernated, not both", "leave both out to list every object")
    if page is not None and all:
        raise ParseError("ls takes --page N or --all, not both", "--all lists every object on one page")
    if page is not None and page < 1:
        raise ParseError(f"there is no page {page}", "pages count from 1")
    if namespace is not None:
        _check_namespace(ctx, namespace)
    state = "live" if live else "hibernated" if hibernated else None
    counts = ctx.facade.count_instances(namespace)
    total = counts[state] if state in ("live", "hibernated") else counts["total"]
    page = page or 1
    offset, limit = (0, None) if all else ((page - 1) * LS_PAGE, LS_PAGE)
    objects = ctx.facade.instances(namespace, state=state, offset=offset, limit=limit)
    pages = 1 if all else max(1, -(-total // LS_PAGE))
    sockets = {(ns, hx): n for ns, hx, n in ctx.facade.websocket_counts(namespace)}
    backends = {ns["name"]: ns.get("backend", "kv") for ns in ctx.facade.namespaces()}  # docs/sqlite.md
    return {
        "objects": [
            {
                "ref": _label(o),
                **o,
                "websockets": sockets.get((o["namespace"], o["id"]), 0),
                "backend": backends.get(o["namespace"], "kv"),
            }
            for o in objects
        ],
        "total": total,
        "page": 1 if all else page,
        "pages": pages,
    }


@command(
    "stats",
    summary="engine totals: live and hibernated objects, queued calls, commits",
    usage="stats",
    examples=("stats",),
)
def stats(ctx: Context) -> dict[str, Any]:
    return ctx.facade.stats()


# ---------------------------------------------------------------- calling
@command(
    "call",
    summary="call a method of an object; REF.METHOD(ARGS) is the same",
    usage="call REF METHOD [ARG ...] [--times N [--concurrent]]",
    args=(Arg("ref", Kind.REF), Arg("method", Kind.METHOD), Arg("args", Kind.ARGS, optional=True)),
    options=(
        Option("--times", "times", Kind.COUNT, help="make N calls (one after another unless --concurrent)"),
        Option("--concurrent", "concurrent", help="with --times: start all N at once, as N callers would"),
    ),
    examples=(
        "call Counter/alice increment 5",
        "Counter/alice.increment(by=5)",
        "call Counter/#3f2a peek",
        "call Interleave/x bump_racy --times 2 --concurrent",
    ),
    details="Arguments are Python or JSON literals (5, 'text', [1, 2], {'k': 1}, true, null); "
    "keyword arguments are key=literal. Nothing is evaluated. The result arrives once the "
    "call's writes are durable. With --times N --concurrent the N calls queue in the object "
    "together: watch interleaving (and lost updates) happen.",
)
def call(
    ctx: Context,
    ref: Ref,
    method: str,
    args: tuple[list, dict] = ([], {}),
    times: int | None = None,
    concurrent: bool = False,
) -> Any:
    if "(" in method:
        raise ParseError(
            f"{method!r} is not a method name", f"write {ref}.{method} or call {ref} {method.partition('(')[0]} ARG ..."
        )
    if concurrent and times is None:
        raise ParseError(
            "--concurrent goes with --times N", "e.g. call Counter/alice increment --times 10 --concurrent"
        )
    positional, keywords = args
    if times is None:
        return ctx.facade.call(ref.namespace, ref.ref, method, positional, keywords)
    return _call_times(ctx, ref, method, positional, keywords, times, concurrent)


def _call_times(
    ctx: Context, ref: Ref, method: str, positional: list, keywords: dict, times: int, concurrent: bool
) -> dict[str, Any]:
    import concurrent.futures as cf

    start = ctx.clock()
    outcomes: list[tuple[bool, Any]] = []
    if concurrent:
        futures = [ctx.facade.call_async(ref.namespace, ref.ref, method, positional, keywords) for _ in range(times)]
        cf.wait(futures)
        for fut in futures:
            exc = fut.exception()
            outcomes.append((exc is None, fut.result() if exc is None else exc))
    else:
        for _ in range(times):
            try:
                outcomes.append((True, ctx.facade.call(ref.namespace, ref.ref, method, positional, keywords)))
            except Exception as exc:  # noqa: BLE001 - each call's error is part of the answer
                outcomes.append((False, exc))
    return {
        "object": str(ref),
        "method": method,
        "times": times,
        "concurrent": concurrent,
        "seconds": round(ctx.clock() - start, 3),
        "results": [r for ok, r in outcomes if ok],
        "errors": [{"type": type(e).__name__, "message": str(e)} for ok, e in outcomes if not ok],
    }


@command(
    "load",
    summary="a steady stream of calls (RATE a second for SECONDS), to watch queues build",
    usage="load REF METHOD [ARG ...] --rate PER_SECOND --for SECONDS",
    args=(Arg("ref", Kind.REF), Arg("method", Kind.METHOD), Arg("args", Kind.ARGS, optional=True)),
    options=(
        Option("--rate", "rate", Kind.RATE, help="calls started a second (default 10)"),
        Option("--for", "seconds", Kind.SECONDS, help="how long to keep starting them (default 5)"),
    ),
    examples=("load Counter/alice increment --rate 50 --for 5", "load Interleave/x bump_racy 0.2 --rate 10 --for 3"),
    details="Calls are started on schedule whether or not earlier ones returned (as independent clients "
    "would), so a method slower than the rate builds a queue: watch it in the TUI's Queue tab or with "
    "queue REF. Reports calls started, returned and raised, the latency, and the deepest queue seen.",
)
def load(
    ctx: Context,
    ref: Ref,
    method: str,
    args: tuple[list, dict] = ([], {}),
    rate: float | None = None,
    seconds: float | None = None,
) -> dict[str, Any]:
    from .loadgen import run_load

    rate = 10.0 if rate is None else rate
    seconds = 5.0 if seconds is None else seconds
    if rate * seconds > 100_000:
        raise ParseError(
            f"{rate:g} a second for {seconds:g} s is {rate * seconds:,.0f} calls; at most 100,000",
            "lower --rate or --for",
        )
    ctx.facade.instance(ref.namespace, ref.ref)  # an unknown namespace fails here, before any call
    return run_load(ctx, ref, method, args[0], args[1], rate, seconds)


# ---------------------------------------------------------------- storage
@command(
    "storage",
    summary="an object's durable storage, as on disk (wakes nothing)",
    usage="storage REF [PREFIX]",
    args=(Arg("ref", Kind.REF), Arg("prefix", Kind.PREFIX, optional=True, help="only keys starting with it")),
    examples=("storage Counter/alice", "storage ChatRoom/lobby msg:"),
    details="Shows the values, the alarm, and the path of recent writes: committed to the log "
    "but not yet in the checkpoint file, and written but not yet committed.",
)
def storage(ctx: Context, ref: Ref, prefix: str | None = None) -> dict[str, Any]:
    existing_instance(ctx, ref)
    data = ctx.facade.read_storage(ref.namespace, ref.ref)
    if prefix:

        def keep(d: dict) -> dict:
            return {k: v for k, v in d.items() if k.startswith(prefix)}

        data["values"] = keep(data["values"])
        data["checkpoint"] = keep(data["checkpoint"])
        data["logged"]["put"] = keep(data["logged"]["put"])
        data["logged"]["deleted"] = [k for k in data["logged"]["deleted"] if k.startswith(prefix)]
        data["pending"]["put"] = keep(data["pending"]["put"])
        data["pending"]["deleted"] = [k for k in data["pending"]["deleted"] if k.startswith(prefix)]
    return {
        "object": format_ref(ref.namespace, data.get("name"), data["id"]),
        "prefix": prefix,
        "alarm_iso": iso_time(data.get("alarm")),
        **data,
    }


@command(
    "get",
    summary="read one storage key, through the object's own queue",
    usage="get REF KEY",
    args=(Arg("ref", Kind.REF), Arg("key", Kind.KEY)),
    examples=("get Counter/alice n",),
)
def get(ctx: Context, ref: Ref, key: str) -> dict[str, Any]:
    existing_instance(ctx, ref)
    value = ctx.facade.storage_get(ref.namespace, ref.ref, key)
    found = value is not None or _has_key(ctx, ref, key)
    return {"object": str(ref), "key": key, "found": found, "value": value}


def _has_key(ctx: Context, ref: Ref, key: str) -> bool:
    """Whether ``key`` exists (its value may be null): asked of the storage view, which wakes nothing."""
    view = ctx.facade.read_storage(ref.namespace, ref.ref)
    pending = view["pending"]
    if key in pending["put"]:
        return True
    if key in pending["deleted"] or pending["cleared"]:
        return False
    return key in view["values"]


@command(
    "put",
    summary="write one storage key, through the object's own queue (durable when it returns)",
    usage="put REF KEY VALUE",
    args=(Arg("ref", Kind.REF), Arg("key", Kind.KEY), Arg("value", Kind.VALUE)),
    examples=("put Counter/alice n 10", "put ChatRoom/lobby topic 'hello'"),
)
def put(ctx: Context, ref: Ref, key: str, value: Any) -> dict[str, Any]:
    ctx.facade.storage_put(ref.namespace, ref.ref, key, value)
    return {"object": str(ref), "key": key, "value": value}


@command(
    "del",
    aliases=("delete",),
    summary="delete one storage key, through the object's own queue",
    usage="del REF KEY",
    args=(Arg("ref", Kind.REF), Arg("key", Kind.KEY)),
    examples=("del Counter/alice n",),
)
def delete(ctx: Context, ref: Ref, key: str) -> dict[str, Any]:
    existing_instance(ctx, ref)
    deleted = ctx.facade.storage_delete(ref.namespace, ref.ref, key)
    return {"object": str(ref), "key": key, "deleted": bool(deleted)}


# ---------------------------------------------------------------- calls in flight
@command(
    "queue",
    summary="an object's running and queued calls",
    usage="queue REF",
    args=(Arg("ref", Kind.REF),),
    examples=("queue Counter/alice",),
)
def queue(ctx: Context, ref: Ref) -> dict[str, Any]:
    existing_instance(ctx, ref)
    return {"object": str(ref), "calls": ctx.facade.queue(ref.namespace, ref.ref)}


@command(
    "history",
    summary="an object's finished calls, newest last",
    usage="history REF [N]",
    args=(Arg("ref", Kind.REF), Arg("n", Kind.COUNT, optional=True, help="how many (default 20)")),
    examples=("history Counter/alice", "history Counter/alice 5"),
)
def history(ctx: Context, ref: Ref, n: int | None = None) -> dict[str, Any]:
    existing_instance(ctx, ref)
    return {"object": str(ref), "calls": ctx.facade.history(ref.namespace, ref.ref, n or 20)}


# ---------------------------------------------------------------- lifecycle
@command(
    "hibernate",
    summary="hibernate an object (or every live one) once its running calls end",
    usage="hibernate REF|--all",
    args=(Arg("ref", Kind.REF, optional=True),),
    options=(Option("--all", "all", help="every live object"),),
    examples=("hibernate Counter/alice", "hibernate --all"),
    details="Its in-memory attributes are dropped; storage and alarm stay. The next call runs the constructor again.",
)
def hibernate(ctx: Context, ref: Ref | None = None, all: bool = False) -> dict[str, Any]:
    if all and ref is not None:
        raise ParseError("hibernate takes REF or --all, not both", "usage: hibernate REF|--all")
    if all:
        return {"object": None, "all": True, "hibernated": ctx.facade.hibernate_all()}
    if ref is None:
        raise ParseError("hibernate needs REF or --all", "usage: hibernate REF|--all; e.g. hibernate Counter/alice")
    existing_instance(ctx, ref)
    return {"object": str(ref), "all": False, "hibernated": int(bool(ctx.facade.hibernate(ref.namespace, ref.ref)))}


@command(
    "wake",
    summary="bring an object to life now (its constructor runs)",
    usage="wake REF",
    args=(Arg("ref", Kind.REF),),
    examples=("wake Counter/alice",),
)
def wake(ctx: Context, ref: Ref) -> dict[str, Any]:
    info = ctx.facade.wake(ref.namespace, ref.ref)
    return {"object": _label(info), "instance": info}


@command(
    "reset",
    summary="reset an object stuck in a call, as ctx.abort() would: it starts again from its durable state",
    usage="reset REF",
    args=(Arg("ref", Kind.REF),),
    examples=("reset Counter/alice",),
    details=(
        "Its running calls fail with ObjectAbortedError as they return, its writes not yet durable are dropped, "
        "its WebSockets close; what is on disk stays. Its next call runs the constructor again."
    ),
)
def reset(ctx: Context, ref: Ref) -> dict[str, Any]:
    existing_instance(ctx, ref)
    done = ctx.facade.reset(ref.namespace, ref.ref)
    said = (
        f"{ref} was reset: its calls in flight fail, its next call starts from its durable state"
        if done
        else f"{ref} is not in memory: nothing to reset (its next call starts from its durable state)"
    )
    return {"object": str(ref), "reset": done, "said": said}


@command(
    "alarm",
    summary="an object's alarm: show it, set it, or delete it",
    usage="alarm REF [set WHEN|delete]",
    args=(
        Arg("ref", Kind.REF),
        Arg("action", Kind.WORD, optional=True, choices=("set", "delete")),
        Arg("when", Kind.WHEN, optional=True, help="+SECONDS, an ISO time, or epoch seconds"),
    ),
    examples=("alarm ApiUsage/alice set +30", "alarm ApiUsage/alice", "alarm ApiUsage/alice delete"),
    details="WHEN is +SECONDS from now, an ISO 8601 time (UTC unless it says otherwise), or epoch seconds. "
    "The class needs an alarm(self, info) method (ApiUsage has one).",
)
def alarm(ctx: Context, ref: Ref, action: str | None = None, when: str | None = None) -> dict[str, Any]:
    if action == "set":
        if when is None:
            raise ParseError("alarm set needs WHEN", "e.g. alarm ApiUsage/alice set +30")
        _validate_when(when)
        _check_alarm_handler(ctx, ref.namespace)
        epoch = ctx.facade.alarm_set(ref.namespace, ref.ref, when)
    else:
        if when is not None:
            raise ParseError(f"alarm {action or 'REF'} takes no WHEN", "to set it: alarm REF set WHEN")
        existing_instance(ctx, ref)
        if action == "delete":
            ctx.facade.alarm_delete(ref.namespace, ref.ref)
            epoch = None
        else:
            epoch = ctx.facade.alarm_get(ref.namespace, ref.ref)
    return {"object": str(ref), "action": action or "get", "alarm": epoch, "alarm_iso": iso_time(epoch)}


def _check_alarm_handler(ctx: Context, namespace: str) -> None:
    """Refuse, before anything is made, an alarm the class could not answer."""
    spaces = {ns["name"]: ns for ns in ctx.facade.namespaces()}
    if namespace not in spaces:
        _check_namespace(ctx, namespace)
    if not spaces[namespace].get("alarm"):
        with_alarm = [n for n, ns in spaces.items() if ns.get("alarm")]
        raise CommandError(
            f"{namespace} has no alarm() method, so an alarm would have nothing to run",
            "add `async def alarm(self, info):` to the class"
            + (f", or use a class that has one: {', '.join(with_alarm)}" if with_alarm else ""),
        )


@command(
    "reload",
    summary="re-import the objects folder; live objects restart on the new code",
    usage="reload",
    examples=("reload",),
    details="Storage, alarms and queued calls survive. Files that fail to load are listed with file and line.",
)
def reload(ctx: Context) -> dict[str, Any]:
    errors = ctx.facade.reload()
    return {"namespaces": _namespace_names(ctx), "errors": errors}


# ---------------------------------------------------------------- time
@command(
    "watch",
    summary="stream events (calls, commits, state changes, alarms) as they happen",
    usage="watch [REF|NS] [--for SECONDS]",
    args=(Arg("target", Kind.TARGET, optional=True, help="one object, or every object of a namespace"),),
    options=(Option("--for", "seconds", Kind.SECONDS, help="stop after SECONDS (needed in scripts)"),),
    examples=("watch Counter/alice --for 10", "watch Counter", "watch"),
    details="At the prompt it runs until Ctrl-C unless --for is given.",
)
def watch(ctx: Context, target: Ref | str | None = None, seconds: float | None = None) -> dict[str, Any]:
    if seconds is None and not ctx.interactive:
        raise ParseError("watch needs --for SECONDS outside the prompt, or it would never end", "e.g. watch --for 5")
    match = _event_filter(ctx, target)
    sub = ctx.facade.subscribe()
    kept: list[dict] = []
    count = lost = 0
    interrupted = False
    deadline = None if seconds is None else ctx.clock() + seconds
    try:
        while True:
            for ev in sub.drain():
                if ev.get("type") == "events.lost":
                    lost += ev.get("count", 0)
                elif not match(ev):
                    continue
                count += 1
                kept.append(ev)
                if len(kept) > WATCH_KEEP:
                    del kept[0]
                if ctx.on_event is not None:
                    ctx.on_event(ev)
            if deadline is not None:
                left = deadline - ctx.clock()
                if left <= 0:
                    break
                ctx.sleep(min(0.05, left))
            else:
                ctx.sleep(0.05)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        sub.close()
    label = str(target) if target is not None else None
    return {
        "target": label,
        "seconds": seconds,
        "count": count,
        "lost": lost,
        "interrupted": interrupted,
        "events": kept,
    }


def _event_filter(ctx: Context, target: Ref | str | None):
    if target is None:
        return lambda ev: True
    if isinstance(target, str):
        _check_namespace(ctx, target)
        return lambda ev: ev.get("namespace") == target
    hex_id = ctx.facade.resolve(target.namespace, target.ref)["id"]
    return lambda ev: ev.get("namespace") == target.namespace and ev.get("id") == hex_id


@command(
    "ws",
    summary="open a WebSocket to an object (its fetch accepts it): send and receive",
    usage="ws REF [PATH] [--send TEXT] [--for SECONDS]",
    args=(
        Arg("ref", Kind.REF),
        Arg("path", Kind.PREFIX, optional=True, help="path and query handed to fetch, e.g. /?user=ann"),
    ),
    options=(
        Option("--send", "send", Kind.KEY, help="send this text, then listen"),
        Option("--for", "seconds", Kind.SECONDS, help=f"listen this long for what arrives (default {WS_LISTEN:g})"),
    ),
    examples=("ws ChatRoom/lobby /?user=ann --send 'hello'", "ws ChatRoom/lobby /?user=ann"),
    details="The object's fetch(request) gets request['websocket'] and accepts it with "
    "self.ctx.accept_websocket; each text you send is a websocket_message call. At the prompt, "
    "without --send, every line you type is sent and what arrives is shown, until an empty line. "
    "The socket closes (1000) when the command ends. Against dotui serve it is a real WebSocket.",
)
def ws(
    ctx: Context, ref: Ref, path: str | None = None, send: str | None = None, seconds: float | None = None
) -> dict[str, Any]:
    interactive = send is None and ctx.interactive and ctx.read_line is not None
    if send is None and not interactive and seconds is None:
        raise ParseError("ws needs --send TEXT or --for SECONDS outside the prompt", "e.g. ws ChatRoom/lobby --send hi")
    sock = ctx.facade.open_websocket(ref.namespace, ref.ref, path or "/")
    log: list[dict[str, Any]] = []
    try:
        _ws_listen(ctx, sock, log, 0.2)
        if send is not None:
            _ws_send(ctx, sock, log, send, WS_LISTEN if seconds is None else seconds)
        elif interactive and (read_line := ctx.read_line) is not None:
            while sock.closed is None and (line := read_line(f"ws {ref}> ")):
                _ws_send(ctx, sock, log, line, 0.3)
        else:
            _ws_listen(ctx, sock, log, seconds or 0.0)
    finally:
        closed = sock.closed
        if closed is None:
            sock.close(1000, "")
    return {
        "ref": str(ref),
        "path": path or "/",
        "messages": log,
        "streamed": ctx.interactive and ctx.on_event is not None,
        "closed": None if closed is None else {"code": closed[0], "reason": closed[1]},
    }


def _ws_send(ctx: Context, sock: Any, log: list, text: str, listen: float) -> None:
    sock.send(text)
    _ws_note(ctx, log, "sent", text)
    _ws_listen(ctx, sock, log, listen)


def _ws_listen(ctx: Context, sock: Any, log: list, seconds: float) -> None:
    """Record what arrives for ``seconds`` (less if the socket closes)."""
    deadline = ctx.clock() + seconds
    while True:
        for m in sock.receive(max(0.0, min(0.05, deadline - ctx.clock()))):
            _ws_note(ctx, log, "received", m if isinstance(m, str) else f"<{len(m)} bytes>")
        if sock.closed is not None or ctx.clock() >= deadline:
            return


def _ws_note(ctx: Context, log: list, direction: str, text: str) -> None:
    log.append({"direction": direction, "text": text})
    if ctx.on_event is not None and ctx.interactive:
        ctx.on_event({"type": f"ws.{direction}", "t": _dt.datetime.now().timestamp(), "text": text})


@command(
    "sleep",
    summary="wait SECONDS (scripts use it to let objects hibernate or alarms fire)",
    usage="sleep SECONDS",
    args=(Arg("seconds", Kind.SECONDS),),
    examples=("sleep 2",),
)
def sleep(ctx: Context, seconds: float) -> dict[str, Any]:
    ctx.sleep(seconds)
    return {"seconds": seconds}


# ---------------------------------------------------------------- the tour
_LESSON_WORDS = ("all", *(x.key for x in _TOUR_LESSONS), *(str(i) for i in range(1, len(_TOUR_LESSONS) + 1)))


@command(
    "tour",
    summary="the guided tour: one lesson per concept of the model, run on objects of its own",
    usage="tour [LESSON|all]",
    args=(
        Arg(
            "lesson",
            Kind.WORD,
            optional=True,
            choices=_LESSON_WORDS,
            help="a lesson's name or number; all runs every one",
        ),
    ),
    examples=("tour", "tour interleaving", "tour 1", "tour all"),
    details="Without LESSON it lists the lessons. A lesson makes real (concurrent) calls on objects named "
    "tour-…, narrates what happened and checks each claim (✓, or ✗ with what was seen instead). "
    "The objects stay, to explore. In the TUI, t opens the tour beside the objects it points at.",
)
def tour(ctx: Context, lesson: str | None = None) -> dict[str, Any]:
    from ..tour import LESSONS, lesson_named
    from ..tour.headless import LineNarrator, run_lessons

    if lesson is None:
        return {
            "lessons": [
                {"number": i, "key": x.key, "title": x.title, "teaches": x.teaches, "objects": list(x.objects)}
                for i, x in enumerate(LESSONS, 1)
            ]
        }
    try:
        chosen = list(LESSONS) if lesson == "all" else [lesson_named(lesson)]
    except ValueError as exc:
        raise ParseError(str(exc), "tour lists them; e.g. tour 1") from None
    lines: list[dict[str, str]] = []

    def emit(kind: str, text: str) -> None:
        lines.append({"kind": kind, "text": text})
        if ctx.on_event is not None:
            ctx.on_event({"type": "tour.line", "kind": kind, "text": text})

    wait = (lambda seconds: ctx.sleep(min(seconds, 1.5))) if ctx.interactive else None
    narrator = LineNarrator(emit, wait=wait, prompt=True)
    ran = run_lessons(ctx.facade, chosen, narrator)
    checks = [{"lesson": x.key, "claim": c.claim, "ok": c.ok, "problem": c.problem} for x, cs in ran for c in cs]
    return {
        "lessons_run": [x.key for x, _ in ran],
        "checks": checks,
        "passed": all(c["ok"] for c in checks),
        "lines": lines,
        "closing": [c for x, _ in ran if (c := x.closing_for(ctx.facade, commands=True))],
    }


# ---------------------------------------------------------------- the session
SYNTAX = (
    "An object is Namespace/name (Counter/alice) or Namespace/#hex (Counter/#3f2a: a unique prefix of its id).",
    "Call a method with REF.METHOD(ARGS), e.g. Counter/alice.increment(5, by=2), or call REF METHOD ARGS.",
    "Values are Python or JSON literals: 5, 2.5, 'text', [1, 2], {'k': 1}, true/True, null/None. Nothing is evaluated.",
    "A # starts a comment. Tab completes commands, objects and methods.",
)


@command(
    "help",
    aliases=("?",),
    summary="the commands, or one command in detail",
    usage="help [COMMAND]",
    args=(Arg("topic", Kind.COMMAND, optional=True),),
    examples=("help", "help call"),
)
def help_(ctx: Context, topic: str | None = None) -> dict[str, Any]:
    if topic is not None:
        return {"command": REGISTRY.lookup(topic).describe(), "syntax": list(SYNTAX)}
    return {"commands": [c.describe() for c in REGISTRY.commands.values()], "syntax": list(SYNTAX)}


@command(
    "clear",
    aliases=("cls",),
    summary="clear the screen (the REPL) or the command bar's output (the TUI)",
    usage="clear",
    examples=("clear",),
)
def clear(ctx: Context) -> dict[str, Any]:
    return {"clear": True}


@command(
    "quit",
    aliases=("exit", "q"),
    summary="leave (every write is made durable first)",
    usage="quit",
    examples=("quit",),
)
def quit_(ctx: Context) -> None:
    return None
