"""The command registry, as plain functions: every command of docs/commands.md, happy path and bad input."""

from __future__ import annotations

import json
import time

import pytest

from dotui.commands import REGISTRY, Context, ParseError, Ref, execute, parse_line, parse_ref, parse_value
from dotui.commands.parsing import parse_call_form, strip_comment, tokenize
from dotui.commands.registry import Arg, Kind, Registry
from dotui.examples import OBJECTS as BUNDLED_OBJECTS
from dotui.ops import LocalEngine
from fixture_objects import counter, objects_source

THINGS = objects_source(
    counter("""
    def echo(self, *args, **kwargs):
        return {"args": list(args), "kwargs": kwargs}

    async def hold(self) -> str:
        while not self.released:
            await asyncio.sleep(0.01)
        return "released"

    def release(self) -> None:
        self.released = True
"""),
    '''
    class Pinger(DurableObject):
        """Has an alarm."""

        async def alarm(self, info):
            self.ctx.storage.put("fired", self.ctx.storage.get("fired", 0) + 1)

        def fired(self) -> int:
            return self.ctx.storage.get("fired", 0)
''',
    imports="import asyncio",
)


@pytest.fixture
def objects_dir(tmp_path):
    folder = tmp_path / "objects"
    folder.mkdir()
    (folder / "things.py").write_text(THINGS)
    return folder


@pytest.fixture
def facade(tmp_path, objects_dir):
    f = LocalEngine(str(objects_dir), str(tmp_path / "data"), idle_timeout=60).start()
    yield f
    f.close()


def run(facade, line, **context):
    outcome = execute(Context(facade, **context), line)
    assert outcome is not None, f"{line!r} was read as a blank line"
    return outcome


def ok(facade, line, **context):
    outcome = run(facade, line, **context)
    assert outcome.ok, f"{line!r} failed: {outcome.error}"
    return outcome.result


def failed(facade, line, **context):
    outcome = run(facade, line, **context)
    assert not outcome.ok, f"{line!r} should have failed, returned {outcome.result!r}"
    return outcome.error


# ---------------------------------------------------------------- reading lines
def test_every_command_of_the_design_is_registered_with_help_and_an_example():
    design = [
        "classes",
        "ls",
        "call",
        "storage",
        "get",
        "put",
        "del",
        "queue",
        "history",
        "hibernate",
        "wake",
        "reset",
        "alarm",
        "watch",
        "ws",
        "reload",
        "stats",
        "sleep",
        "tour",
        "load",
        "help",
        "clear",
        "quit",
        "sql",
        "tables",
        "bookmark",
        "restore",  # SQLite-backed objects (docs/sqlite.md)
        "requests",
    ]  # a wrangler project's Worker (docs/cloudflare.md)
    assert sorted(REGISTRY.commands) == sorted(design)
    for name in design:
        cmd = REGISTRY.commands[name]
        assert cmd.summary and cmd.usage.startswith(name) and cmd.examples


def test_a_command_word_cannot_be_registered_twice():
    registry = Registry()
    registry.command("x", summary="x", usage="x")(lambda ctx: None)
    with pytest.raises(ValueError, match="twice"):
        registry.command("y", summary="y", usage="y", aliases=("x",))(lambda ctx: None)


def test_blank_lines_and_comments_are_not_commands(facade):
    assert execute(Context(facade), "") is None
    assert execute(Context(facade), "   # just a comment") is None
    assert strip_comment("ls Counter   # list them") == "ls Counter"


def test_a_hash_inside_a_reference_or_a_string_is_not_a_comment():
    assert strip_comment("get Counter/#3f2a 'a # b'") == "get Counter/#3f2a 'a # b'"
    assert [t.text for t in tokenize("put Counter/a k {'x': [1, 2]}").items] == [
        "put",
        "Counter/a",
        "k",
        "{'x': [1, 2]}",
    ]


def test_values_are_python_or_json_literals():
    assert parse_value("[1, 'two', {'k': None}]") == [1, "two", {"k": None}]
    assert parse_value('{"a": true, "b": null, "c": false}') == {"a": True, "b": None, "c": False}
    assert parse_value("-2.5") == -2.5
    assert parse_value("(1, 2)") == [1, 2]


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("__import__('os').system('touch pwned')", "never evaluated"),
        ("1 + 1", "never evaluated"),
        ("alice", "quotes"),
        ("{1, 2}", "list"),
        ("{1: 'a'}", "string"),
        ("[1, 2", "close"),
    ],
)
def test_anything_but_a_literal_is_refused_with_what_to_type(text, fragment):
    with pytest.raises(ParseError) as info:
        parse_value(text)
    assert fragment in (info.value.message + " " + (info.value.hint or ""))


def test_references_by_name_by_id_prefix_and_quoted():
    assert parse_ref("Counter/alice") == Ref("Counter", "alice")
    assert parse_ref("Counter/#3F2A") == Ref("Counter", "#3f2a")
    assert parse_ref("Counter/'bob smith'") == Ref("Counter", "bob smith")
    assert str(Ref("Counter", "bob smith")) == "Counter/'bob smith'"


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("alice", "Namespace/name"),
        ("Counter/", "names no object"),
        ("Counter/#xyz", "hex digits"),
        ("9x/alice", "not a namespace"),
        ("Counter/'#tag'", "marks an id"),
    ],
)
def test_bad_references_say_how_to_write_one(text, fragment):
    with pytest.raises(ParseError) as info:
        parse_ref(text)
    assert fragment in info.value.message + " " + (info.value.hint or "")


def test_the_call_form_reads_the_method_and_arguments():
    form = parse_call_form("Counter/a.b.echo(1, 'x.y(2)', k=[true])")
    assert (form.ref, form.method, form.args, form.kwargs) == (
        Ref("Counter", "a.b"),
        "echo",
        [1, "x.y(2)"],
        {"k": [True]},
    )
    assert parse_call_form("Counter/alice.peek").args == []


def test_the_call_form_and_the_call_command_are_the_same():
    a = parse_line("Counter/alice.increment(5, by=2)")
    b = parse_line("call Counter/alice increment 5 by=2")
    assert a.command is b.command is REGISTRY.commands["call"]
    assert a.values == b.values


def test_an_unknown_command_suggests_the_closest(facade):
    error = failed(facade, "hibernat Counter/alice")
    assert error.usage and "unknown command 'hibernat'" in error.message
    assert error.hint == "did you mean 'hibernate'?"


def test_a_bare_reference_says_how_to_call_it(facade):
    error = failed(facade, "Counter/alice")
    assert error.usage and "Counter/alice.METHOD(ARGS)" in error.hint


def test_missing_and_extra_arguments_show_usage(facade):
    assert "usage: get REF KEY" in failed(facade, "get Counter/alice").hint
    error = failed(facade, "stats now")
    assert "too many" in error.message and error.usage


def test_an_unknown_option_suggests_the_closest(facade):
    error = failed(facade, "ls --liv")
    assert "did you mean '--live'?" in error.hint


# ---------------------------------------------------------------- call
def test_call_returns_the_methods_result(facade):
    assert ok(facade, "Counter/alice.increment(5)") == 5
    assert ok(facade, "call Counter/alice increment by=2") == 7
    assert ok(facade, "Counter/alice.peek") == 7


def test_call_passes_literals_and_keywords_as_values(facade):
    result = ok(facade, "Counter/x.echo(1, 'two', [3], {'four': 4}, true, null, key={'a': [1]})")
    assert result == {"args": [1, "two", [3], {"four": 4}, True, None], "kwargs": {"key": {"a": [1]}}}
    assert ok(facade, "call Counter/x echo 1 'two' k=false") == {"args": [1, "two"], "kwargs": {"k": False}}


def test_call_never_evaluates_what_it_is_given(facade, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    error = failed(facade, "Counter/x.echo(__import__('os').system('touch pwned'))")
    assert error.usage
    assert not (tmp_path / "pwned").exists()


def test_call_command_with_parentheses_says_which_form_to_use(facade):
    error = failed(facade, "call Counter/alice increment(5)")
    assert error.usage and "Counter/alice.increment(5)" in error.hint


def test_call_to_an_unknown_method_suggests_the_closest(facade):
    error = failed(facade, "Counter/alice.incremnt()")
    assert error.type == "MethodNotFoundError" and not error.usage
    assert error.hint == "did you mean 'increment'?"


def test_call_to_an_unknown_namespace_suggests_the_closest(facade):
    error = failed(facade, "Countr/alice.peek()")
    assert error.type == "NamespaceNotFoundError"
    assert error.hint == "did you mean 'Counter'?"


def test_call_with_wrong_arguments_shows_the_signature(facade):
    error = failed(facade, "Counter/alice.increment(1, 2)")
    assert error.type == "TypeError"
    assert error.hint == "Counter.increment(by: int = 1) -> int"


def test_an_exception_of_the_users_method_keeps_only_the_users_frames(facade, objects_dir):
    error = failed(facade, "Counter/alice.fail('no way')")
    assert (error.type, error.message) == ("ValueError", "no way")
    assert [f["function"] for f in error.traceback] == ["fail", "_deeper"]
    assert all(f["file"] == str(objects_dir / "things.py") for f in error.traceback)
    assert "raise ValueError(why)" in error.traceback[-1]["code"]


def test_an_unknown_id_prefix_says_where_to_find_ids(facade):
    ok(facade, "Counter/alice.increment()")
    hex_id = ok(facade, "ls")["objects"][0]["id"]
    assert ok(facade, f"Counter/#{hex_id[:6]}.peek()") == 1
    wrong = "0" if hex_id[0] != "0" else "1"
    error = failed(facade, f"Counter/#{wrong}{hex_id[1:6]}.peek()")
    assert error.type == "InvalidIdError" and error.hint == "ls Counter lists the ids"


# ---------------------------------------------------------------- describing
def test_classes_lists_namespaces_methods_and_signatures(facade):
    result = ok(facade, "classes")
    by_name = {ns["name"]: ns for ns in result["namespaces"]}
    assert set(by_name) == {"Counter", "Pinger"}
    methods = {m["name"]: m["signature"] for m in by_name["Counter"]["methods"]}
    assert methods["increment"] == "(by: int = 1) -> int"
    assert by_name["Pinger"]["alarm"] is True
    assert [ns["name"] for ns in ok(facade, "classes Pinger")["namespaces"]] == ["Pinger"]


def test_classes_of_an_unknown_namespace_suggests_the_closest(facade):
    assert failed(facade, "classes Pingr").hint == "did you mean 'Pinger'?"


def test_classes_reports_files_that_failed_to_load(tmp_path, objects_dir):
    (objects_dir / "broken.py").write_text("from dotui import DurableObject\n\nclass B(DurableObject)\n    pass\n")
    with LocalEngine(str(objects_dir), str(tmp_path / "data2")) as f:
        result = ok(f, "classes")
    assert [ns["name"] for ns in result["namespaces"]] == ["Counter", "Pinger"]
    assert len(result["load_errors"]) == 1 and "broken.py:3" in result["load_errors"][0]


def test_ls_lists_live_and_hibernated_objects(facade):
    assert ok(facade, "ls")["objects"] == []
    ok(facade, "Counter/alice.increment()")
    ok(facade, "Counter/bob.increment()")
    ok(facade, "hibernate Counter/bob")
    listed = {o["ref"]: o["state"] for o in ok(facade, "ls")["objects"]}
    assert listed == {"Counter/alice": "live", "Counter/bob": "hibernated"}
    assert [o["ref"] for o in ok(facade, "ls --live")["objects"]] == ["Counter/alice"]
    assert [o["ref"] for o in ok(facade, "ls Counter --hibernated")["objects"]] == ["Counter/bob"]
    assert ok(facade, "ls Pinger")["objects"] == []


def test_ls_bad_input(facade):
    assert failed(facade, "ls --live --hibernated").usage
    assert failed(facade, "ls Cuonter").hint == "did you mean 'Counter'?"


def test_stats_counts_objects_and_calls(facade):
    ok(facade, "Counter/alice.increment()")
    stats = ok(facade, "stats")
    assert stats["live"] == 1 and stats["calls"] >= 1 and "commits_pending" in stats
    assert failed(facade, "stats --all").usage


# ---------------------------------------------------------------- storage
def test_storage_shows_durable_values_and_filters_by_prefix(facade):
    ok(facade, "put Counter/alice msg:1 'hi'")
    ok(facade, "put Counter/alice msg:2 'there'")
    ok(facade, "put Counter/alice other 3")
    result = ok(facade, "storage Counter/alice")
    assert result["values"] == {"msg:1": "hi", "msg:2": "there", "other": 3}
    assert result["object"] == "Counter/alice" and result["path"].endswith(".json")
    assert ok(facade, "storage Counter/alice msg:")["values"] == {"msg:1": "hi", "msg:2": "there"}


def test_storage_of_an_object_that_never_existed_suggests_a_name(facade):
    ok(facade, "Counter/alice.increment()")
    error = failed(facade, "storage Counter/alcie")
    assert "no Counter object named 'alcie'" in error.message
    assert error.hint == "did you mean 'alice'?"


def test_put_get_and_del_go_through_the_object(facade):
    assert ok(facade, "put Counter/alice n 41") == {"object": "Counter/alice", "key": "n", "value": 41}
    assert ok(facade, "Counter/alice.increment()") == 42  # the object sees the write
    assert ok(facade, "get Counter/alice n") == {"object": "Counter/alice", "key": "n", "found": True, "value": 42}
    ok(facade, "put Counter/alice 'a key' null")
    assert ok(facade, "get Counter/alice 'a key'")["found"] is True
    assert ok(facade, "get Counter/alice nothing")["found"] is False
    assert ok(facade, "del Counter/alice n")["deleted"] is True
    assert ok(facade, "del Counter/alice n")["deleted"] is False
    assert ok(facade, "Counter/alice.peek()") == 0


def test_put_get_del_bad_input(facade):
    assert failed(facade, "put Counter/alice k").usage  # no value
    assert "quotes" in failed(facade, "put Counter/alice k hello").hint
    assert failed(facade, "get Counter/nobody n").type == "CommandError"
    assert failed(facade, "del Counter/nobody n").type == "CommandError"
    assert failed(facade, "put alice k 1").usage


# ---------------------------------------------------------------- calls in flight
def test_queue_shows_a_suspended_call_and_history_the_finished_ones(facade):
    held = facade.call_async("Counter", "alice", "hold")
    try:
        calls = []
        for _ in range(500):
            calls = ok(facade, "queue Counter/alice")["calls"]
            if calls:
                break
            time.sleep(0.01)
        assert [(c["method"], c["status"]) for c in calls] == [("hold", "suspended")]
    finally:
        ok(facade, "Counter/alice.release()")
    assert held.result(timeout=10) == "released"
    ok(facade, "Counter/alice.increment(3)")
    history = ok(facade, "history Counter/alice")["calls"]
    assert [c["method"] for c in history] == ["release", "hold", "increment"]
    assert history[-1]["result"] == 3
    assert [c["method"] for c in ok(facade, "history Counter/alice 1")["calls"]] == ["increment"]


def test_queue_and_history_bad_input(facade):
    assert failed(facade, "queue alice").usage
    ok(facade, "Counter/alice.increment()")
    assert failed(facade, "history Counter/alice 0").usage
    assert failed(facade, "history Counter/alice many").usage
    assert failed(facade, "queue Counter/alise").hint == "did you mean 'alice'?"
    assert failed(facade, "queue Counter/zzz").hint == "ls Counter lists its objects"


# ---------------------------------------------------------------- lifecycle
def test_hibernate_then_wake_runs_the_constructor_again(facade):
    ok(facade, "Counter/alice.increment(5)")
    assert ok(facade, "Counter/alice.since_wake()") == 1
    assert ok(facade, "hibernate Counter/alice")["hibernated"] == 1
    assert ok(facade, "hibernate Counter/alice")["hibernated"] == 0  # no longer live
    assert ok(facade, "wake Counter/alice")["instance"]["state"] == "live"
    assert ok(facade, "Counter/alice.since_wake()") == 0
    assert ok(facade, "Counter/alice.peek()") == 5


def test_hibernate_all(facade):
    ok(facade, "Counter/a.increment()")
    ok(facade, "Counter/b.increment()")
    assert ok(facade, "hibernate --all") == {"object": None, "all": True, "hibernated": 2}
    assert {o["state"] for o in ok(facade, "ls")["objects"]} == {"hibernated"}


def test_hibernate_and_wake_bad_input(facade):
    assert failed(facade, "hibernate").usage
    assert failed(facade, "hibernate Counter/a --all").usage
    assert failed(facade, "wake Nope/a").hint is not None
    assert failed(facade, "wake").usage


def test_alarm_set_show_delete(facade):
    result = ok(facade, "alarm Pinger/p set +3600")
    assert result["action"] == "set" and result["alarm"] is not None and result["alarm_iso"].endswith("Z")
    assert ok(facade, "alarm Pinger/p")["alarm"] == result["alarm"]
    assert ok(facade, "alarm Pinger/p delete")["alarm"] is None
    assert ok(facade, "alarm Pinger/p")["alarm"] is None
    assert ok(facade, "alarm Pinger/p set 2099-01-01T00:00:00Z")["alarm_iso"] == "2099-01-01T00:00:00.000Z"


def test_an_alarm_fires_and_the_script_sees_it_after_sleeping(facade):
    ok(facade, "alarm Pinger/p set +0.05")
    for _ in range(200):
        if ok(facade, "Pinger/p.fired()"):
            break
        ok(facade, "sleep 0.05")
    assert ok(facade, "Pinger/p.fired()") == 1


def test_alarm_bad_input(facade):
    assert failed(facade, "alarm Pinger/p set").usage
    assert "ISO time" in failed(facade, "alarm Pinger/p set tomorrow").hint
    assert failed(facade, "alarm Pinger/p sett +5").hint.startswith("did you mean 'set'?")
    assert failed(facade, "alarm Pinger/p delete +5").usage
    error = failed(facade, "alarm Counter/never set +5")
    assert "has no alarm() method" in error.message and "Pinger" in error.hint
    assert facade.instance("Counter", "never")["state"] == "unknown"  # refused before the object was made


def test_the_examples_of_help_alarm_work_in_order(tmp_path):
    import shutil

    from dotui.commands import REGISTRY as registry

    objects = shutil.copytree(BUNDLED_OBJECTS, tmp_path / "objects")
    with LocalEngine(str(objects), str(tmp_path / "data")) as fe:
        for example in registry.commands["alarm"].examples:
            out = run(fe, example)
            assert out.ok, (example, out.error)


def test_reload_picks_up_new_methods_and_reports_broken_files(facade, objects_dir):
    ok(facade, "Counter/alice.increment(2)")
    source = (objects_dir / "things.py").read_text()
    (objects_dir / "things.py").write_text(
        source + "\n\nclass Extra(DurableObject):\n    def hi(self):\n        return 'hi'\n"
    )
    result = ok(facade, "reload")
    assert "Extra" in result["namespaces"] and result["errors"] == []
    assert ok(facade, "Extra/x.hi()") == "hi"
    assert ok(facade, "Counter/alice.peek()") == 2
    (objects_dir / "broken.py").write_text("def nope(:\n")
    result = ok(facade, "reload")
    assert len(result["errors"]) == 1 and "broken.py:1" in result["errors"][0]
    assert failed(facade, "reload now").usage


# ---------------------------------------------------------------- time
class FakeTime:
    """A clock that moves only when the command sleeps; runs ``on_sleep`` at the first sleep."""

    def __init__(self, on_sleep=None, interrupt_after=None):
        self.now = 0.0
        self.slept = []
        self.on_sleep = on_sleep
        self.interrupt_after = interrupt_after

    def clock(self):
        return self.now

    def sleep(self, seconds):
        if self.on_sleep is not None:
            action, self.on_sleep = self.on_sleep, None
            action()
        if self.interrupt_after is not None and len(self.slept) >= self.interrupt_after:
            raise KeyboardInterrupt
        self.slept.append(seconds)
        self.now += seconds


def test_watch_streams_the_events_of_one_object(facade):
    ok(facade, "Counter/alice.increment()")

    def act():
        facade.call("Counter", "bob", "increment", [7])
        facade.call("Counter", "alice", "increment", [5])

    t = FakeTime(on_sleep=act)
    seen = []
    result = ok(facade, "watch Counter/alice --for 1", sleep=t.sleep, clock=t.clock, on_event=seen.append)
    finished = [e for e in result["events"] if e["type"] == "call.finished"]
    assert [(e["method"], e["result"]) for e in finished] == [("increment", 6)]
    assert {e.get("name") for e in result["events"]} == {"alice"}
    assert seen == result["events"] and result["count"] == len(seen)
    assert sum(t.slept) == pytest.approx(1)


def test_watch_of_a_namespace_and_of_everything(facade):
    t = FakeTime(on_sleep=lambda: facade.call("Pinger", "p", "fired"))
    assert ok(facade, "watch Counter --for 0.5", sleep=t.sleep, clock=t.clock)["count"] == 0
    t = FakeTime(on_sleep=lambda: facade.call("Pinger", "p", "fired"))
    result = ok(facade, "watch --for 0.5", sleep=t.sleep, clock=t.clock)
    assert any(e["type"] == "call.finished" and e["method"] == "fired" for e in result["events"])


def test_watch_needs_for_in_a_script_and_runs_until_ctrl_c_at_the_prompt(facade):
    error = failed(facade, "watch Counter/alice")
    assert error.usage and "--for" in error.message
    t = FakeTime(interrupt_after=3)
    result = ok(facade, "watch", sleep=t.sleep, clock=t.clock, interactive=True)
    assert result["interrupted"] is True and len(t.slept) == 3
    assert failed(facade, "watch Nope --for 1").hint is not None
    assert failed(facade, "watch --for soon").usage


def test_sleep_waits_the_given_seconds(facade):
    t = FakeTime()
    assert ok(facade, "sleep 2.5", sleep=t.sleep) == {"seconds": 2.5}
    assert t.slept == [2.5]
    assert failed(facade, "sleep").usage
    assert failed(facade, "sleep -1").usage
    assert failed(facade, "sleep soon").usage


# ---------------------------------------------------------------- the session
def test_help_lists_every_command_and_explains_one(facade):
    listed = [c["name"] for c in ok(facade, "help")["commands"]]
    assert sorted(listed) == sorted(REGISTRY.commands)
    one = ok(facade, "help call")["command"]
    assert one["usage"] == "call REF METHOD [ARG ...] [--times N [--concurrent]]" and one["examples"]
    assert ok(facade, "? ls")["command"]["name"] == "ls"
    error = failed(facade, "help cal")
    assert error.hint == "did you mean 'call'?"


def test_quit_ends_the_session(facade):
    assert run(facade, "quit").quit
    assert run(facade, "exit").quit
    assert not run(facade, "ls").quit
    assert failed(facade, "quit now").usage


def test_every_result_is_a_json_document(facade):
    lines = [
        "Counter/alice.increment()",
        "ls",
        "classes",
        "storage Counter/alice",
        "get Counter/alice n",
        "history Counter/alice",
        "queue Counter/alice",
        "stats",
        "help",
        "alarm Pinger/p set +60",
        "hibernate --all",
        "wake Counter/alice",
        "Counter/alice.nope()",
    ]
    for line in lines:
        doc = run(facade, line).to_dict()
        assert set(doc) == {"command", "input", "ok", "result", "error"}
        json.dumps(doc)


def test_argument_kinds_have_readable_metavars():
    assert Arg("ref", Kind.REF).metavar == "REF"
    assert Arg("action", Kind.WORD, choices=("set", "delete")).metavar == "set|delete"


def test_an_answer_that_says_one_line_is_printed_as_that_line_and_kept_whole_in_json():
    import io

    from rich.console import Console

    from dotui.commands.runner import Outcome
    from dotui.present.render import Renderer

    def printed(result):
        console = Console(file=io.StringIO(), width=100, color_system=None, record=True)
        Renderer(console).outcome(Outcome("a-command-with-no-renderer", "x", True, result))
        return console.export_text().strip()

    answer = {"object": "Counter/alice", "reset": True, "said": "Counter/alice was reset"}
    assert printed(answer) == "Counter/alice was reset"
    assert Outcome("x", "x", True, answer).to_dict()["result"] == answer  # --json: every field
    assert '"reset": true' in printed({"object": "Counter/alice", "reset": True})  # no line to say: the JSON


def test_classes_says_each_class_storage_backend_in_words(tmp_path):
    """`namespaces` (and the TUI's Methods tab, through the same words) tells a key-value class from a
    SQLite-backed one: the bundled TodoList declares storage_backend = "sqlite" (docs/sqlite.md)."""
    import io

    from rich.console import Console

    from dotui.commands.runner import Outcome
    from dotui.present.render import Renderer

    engine = LocalEngine(str(BUNDLED_OBJECTS), str(tmp_path / "data"), idle_timeout=60).start()
    try:
        result = ok(engine, "classes")
    finally:
        engine.close()
    by_name = {ns["name"]: ns for ns in result["namespaces"]}
    assert by_name["TodoList"]["backend"] == "sqlite" and by_name["Counter"]["backend"] == "kv"
    console = Console(file=io.StringIO(), width=400, color_system=None, record=True)
    Renderer(console).outcome(Outcome("classes", "classes", True, result))
    lines = console.export_text().splitlines()
    todo = next(i for i, line in enumerate(lines) if "TodoList" in line)
    counter = next(i for i, line in enumerate(lines) if line.lstrip("│ ").startswith("Counter"))
    assert "SQLite storage (ctx.storage.sql)" in " ".join(lines[todo : todo + 3])
    assert "key-value storage" in " ".join(lines[counter : counter + 3])
