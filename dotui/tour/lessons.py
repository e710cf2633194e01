"""The lessons of the tour, one per concept, each on objects of its own (``tour-…``).

Every ``then`` narrates what the scenario actually saw, and its ``check`` says
whether that is what the Durable Objects model promises; ``dotui tour --check``
fails on the first claim the engine does not bear out.
"""

from __future__ import annotations

import datetime as _dt
import functools
import time
from collections.abc import Callable
from typing import Any

from ..ops import EngineFacade
from ..present.formats import short
from .pitr import PITR
from .script import Lesson, Point, Run, Step
from .watching import EventLog

C, CHAT, IL, API, ACC = "Counter", "ChatRoom", "Interleave", "ApiUsage", "Account"


def _fail(cond: bool, problem: str) -> str | None:
    return None if cond else problem


# ================================================================ addressing
def _by_name(run: Run) -> None:
    run.facade.storage_put(C, "tour-alice", "n", 0)
    first = run.facade.resolve(C, "tour-alice")["id"]
    run.seen["n"] = run.call(C, "tour-alice", "increment")
    run.seen["ids"] = (first, run.facade.resolve(C, "tour-alice")["id"])


def _by_unique(run: Run) -> None:
    made = run.facade.new_unique_id(C)["id"]
    run.seen["unique"] = made
    run.seen["before"] = run.facade.instance(C, "#" + made)["state"]
    run.seen["unique_n"] = run.call(C, "#" + made, "increment")
    run.seen["unique_row"] = run.facade.instance(C, "#" + made)


def _again_by_name(run: Run) -> None:
    run.seen["again"] = run.call(C, "tour-alice", "increment")


ADDRESSING = Lesson(
    "addressing",
    "Addressing: by name, and by unique id",
    "An object is reached through its id. id_from_name(name) always gives the same id; "
    "new_unique_id() gives one no name leads to.",
    ("Counter/tour-alice",),
    [
        Step(
            "Every caller who says Counter/tour-alice gets the id id_from_name('tour-alice'): "
            "the name is hashed into the id, so it is the same id everywhere, every time.",
            do=_by_name,
            point=Point(C, "tour-alice", "storage", "the key n"),
            then=lambda r: f"Counter/tour-alice → id #{r.seen['ids'][0][:12]}… both times; increment → {r.seen['n']}",
            check=lambda r: _fail(
                r.seen["ids"][0] == r.seen["ids"][1] and r.seen["n"] == 1,
                f"ids {r.seen['ids']}, increment {r.seen['n']}",
            ),
        ),
        Step(
            "new_unique_id() makes an id that no name leads to. The object does not exist until its first call; "
            "to reach it again you keep the id (in storage, in a URL).",
            do=_by_unique,
            point=lambda r: Point(C, "#" + r.seen["unique"][:12], "storage", "a row with #id instead of a name"),
            then=lambda r: (
                f"Counter/#{r.seen['unique'][:12]}…: {r.seen['before']} before its first call, "
                f"then live with n = {r.seen['unique_n']}; its row shows the id, not a name"
            ),
            check=lambda r: _fail(
                r.seen["before"] == "unknown" and r.seen["unique_n"] == 1 and r.seen["unique_row"]["name"] is None,
                f"saw {r.seen}",
            ),
        ),
        Step(
            "The name leads back to the first object, with its own storage.",
            do=_again_by_name,
            point=Point(C, "tour-alice", "storage", "n"),
            then=lambda r: f"Counter/tour-alice.increment() → {r.seen['again']}: the same object as before",
            check=lambda r: _fail(r.seen["again"] == 2, f"increment returned {r.seen['again']}"),
        ),
    ],
    "Explore: n makes a Counter by name; :call Counter/#… increment reaches one by id.",
    commands="Explore: Counter/anyname.increment() makes a Counter by name; ls Counter shows its id, and "
    "Counter/#3f2a.increment() (a unique prefix of the id) reaches it by id.",
)


# ================================================================ one instance per id
HOLD = 600.0  # seconds a commit may wait for the learner (the engine's most; → ends the wait at once)
AUTO_HOLD = 4.0  # how long auto mode shows what a held commit holds


def _commit_now(run: Run) -> None:
    run.facade.commit_delay(0)  # the commit waiting for the learner goes on now, and every later one at once


MEMBERS = [f"user{i:02d}" for i in range(1, 21)]


def _join(run: Run) -> None:
    run.at_once([(CHAT, "tour-lobby", "join", [m]) for m in MEMBERS])
    run.seen["members"] = run.call(CHAT, "tour-lobby", "join", MEMBERS[0])


def _announce_and_post(run: Run) -> None:
    run.seen["base"] = run.facade.storage_get(CHAT, "tour-lobby", "seq") or 0
    run.seen["delay"] = _hold_the_commit(run)
    run.seen["announce"] = run.facade.call_async(CHAT, "tour-lobby", "announce", [MEMBERS[0], "quiet please"])
    run.wait_for(lambda: [c["method"] for c in run.facade.queue(CHAT, "tour-lobby")] == ["announce"], 10.0)
    run.seen["posts"] = [run.facade.call_async(CHAT, "tour-lobby", "post", [m, f"hello from {m}"]) for m in MEMBERS]
    run.wait_for(lambda: _waiting(run) == len(MEMBERS), 10.0)
    run.seen["waiting"] = _waiting(run)
    run.seen["answered"] = sum(f.done() for f in run.seen["posts"])


def _hold_the_commit(run: Run) -> float | str:
    """Commits wait for the learner (commit_delay) until the step is left; what commit_delay answered."""
    try:
        delay = run.facade.commit_delay(HOLD)
    except Exception as exc:  # noqa: BLE001 - a gateway's engine may not hold its commits
        return f"{type(exc).__name__}: {exc}"
    run.ends.append(lambda: _commit_now(run))  # however the lesson ends, commits are back at disk speed
    return delay


def _waiting(run: Run) -> int:
    """The posts in the room's queue that have not started (O(queue))."""
    return sum(c["method"] == "post" and c["status"] == "queued" for c in run.facade.queue(CHAT, "tour-lobby"))


def _posts_ran(run: Run) -> None:
    run.seen["announced"] = run.gather([run.seen.pop("announce")])[0]
    run.seen["posted"] = run.gather(run.seen.pop("posts", []))


def _posted_ok(r: Run) -> str | None:
    base, got = r.seen["base"], r.seen["posted"]
    return _fail(
        r.seen["announced"] == base + 1 and sorted(got) == list(range(base + 2, base + 22)),
        f"announce {r.seen['announced']}, message numbers {got}",
    )


ONE_INSTANCE = Lesson(
    "one-instance",
    "One instance per id: 20 callers, one object",
    "Everyone who addresses the same id reaches the same single instance, which handles one call at a time "
    "between awaits: the others wait in its queue. No locks, no collisions.",
    ("ChatRoom/tour-lobby",),
    [
        Step(
            "20 members join ChatRoom/tour-lobby, all at once.",
            do=_join,
            point=Point(CHAT, "tour-lobby", "storage", "the key members"),
            then=lambda r: f"{len(r.seen['members'])} members in one list: no join overwrote another",
            check=lambda r: _fail(sorted(r.seen["members"]) == MEMBERS, f"members {r.seen['members']}"),
        ),
        Step(
            f"{MEMBERS[0]} announces: announce() posts and answers only once the message is on disk, letting no "
            "other call in meanwhile (for this lesson the commit waits for you: → lets it go). Then all 20 "
            "post at the same moment: 20 concurrent calls to one object.",
            do=_announce_and_post,
            point=Point(
                CHAT,
                "tour-lobby",
                "queue",
                "the posts waiting (…) in its queue; its ⊘ line, the input gate, is lesson 4's",
            ),
            then=lambda r: (
                f"{r.seen['waiting']} posts wait in the room's queue behind the announcement; "
                f"{r.seen['answered']} of 20 have run. → lets the commit go"
            ),
            check=lambda r: _fail(
                r.seen["delay"] == HOLD and r.seen["waiting"] == 20 and r.seen["answered"] == 0,
                f"commit_delay {r.seen['delay']}, {r.seen['waiting']} waiting, {r.seen['answered']} answered",
            ),
            release=_commit_now,
            dwell=AUTO_HOLD,
        ),
        Step(
            "The announcement is on disk; the room takes the posts from its queue one at a time. post() reads "
            "seq, adds 1 and writes it back, with no lock.",
            do=_posts_ran,
            point=Point(CHAT, "tour-lobby", "queue", "finished calls: one post after another"),
            then=lambda r: (
                f"the announcement is message {r.seen['announced']}, the posts "
                f"{r.seen['base'] + 2}…{r.seen['base'] + 21}, each exactly once: the one instance "
                "ran them one after another"
            ),
            check=_posted_ok,
        ),
    ],
    "Explore: ChatRoom/tour-lobby.read() in the command bar (:) lists the messages in order.",
    commands="Explore: ChatRoom/tour-lobby.read() lists the messages in order.",
)


# ================================================================ the queue and interleaving
GO = "go"  # the storage key that lets bump_racy_until's await end (the lesson puts it when the learner moves on)


class Race:
    """Two bump_racy_until calls on Interleave/``ref``, held at their await until ``let_go``."""

    def __init__(self, ref: str):
        self.ref = ref

    def start(self, run: Run) -> None:
        run.call(IL, self.ref, "reset")
        run.facade.storage_delete(IL, self.ref, GO)
        run.seen["race"] = [run.facade.call_async(IL, self.ref, "bump_racy_until", [GO]) for _ in range(2)]
        run.seen["suspended"] = run.wait_for(lambda: self.statuses(run).count("suspended") == 2, 10.0)
        run.seen["answered"] = sum(f.done() for f in run.seen["race"])
        run.seen["n0"] = run.facade.storage_get(IL, self.ref, "n")

    def statuses(self, run: Run) -> list[str | None]:
        return [c.get("status") for c in run.facade.queue(IL, self.ref) if c.get("method") != "put"]

    def let_go(self, run: Run) -> None:
        run.facade.storage_put(IL, self.ref, GO, True)  # a call of its own: it gets in at the two calls' await

    def end(self, run: Run) -> None:
        run.seen["results"] = run.gather(run.seen.pop("race", []))
        run.seen["n"] = run.call(IL, self.ref, "peek")
        run.seen["history"] = [c for c in run.facade.history(IL, self.ref, 10) if c["method"] == "bump_racy_until"][-2:]

    def held_ok(self, r: Run) -> str | None:
        return _fail(
            r.seen["suspended"] and r.seen["answered"] == 0, f"queue {self.statuses(r)}, {r.seen['answered']} answered"
        )


def _lost_ok(r: Run) -> str | None:
    return _fail(r.seen["results"] == [1, 1] and r.seen["n"] == 1, f"results {r.seen['results']}, n {r.seen['n']}")


def _lost_text(r: Run) -> str:
    return (
        f"⚠ LOST UPDATE: both calls returned {r.seen['results'][0]} and n is {r.seen['n']} after 2 bumps; "
        "the second read n before the first wrote it"
    )


RACE = Race("tour-race")


def _overlapped(r: Run) -> str | None:
    h = r.seen["history"]
    if len(h) != 2:
        return f"history has {len(h)} bump_racy_until calls"
    return _fail(h[1]["started_at"] < h[0]["ended_at"], "the two calls did not overlap in time")


INTERLEAVING = Lesson(
    "interleaving",
    "The queue, and interleaving at an await",
    "Calls wait in the object's queue; a running call that awaits lets the next one in. Code that reads, awaits, "
    "then writes can lose an update.",
    ("Interleave/tour-race",),
    [
        Step(
            "Two callers call bump_racy_until at the same moment. It reads n, then awaits (until the tour lets "
            "it go on), then writes n + 1. At the first call's await the second call gets in: it reads n too.",
            do=RACE.start,
            point=Point(IL, RACE.ref, "queue", "two calls ⏸ suspended at their await"),
            then=lambda r: (
                f"both calls read n = {r.seen['n0'] or 0} and are suspended (⏸ ⏸) at their await; "
                f"{r.seen['answered']} of 2 answered, nothing written yet. → lets them go on"
            ),
            check=RACE.held_ok,
            release=RACE.let_go,
            dwell=3.0,
        ),
        Step(
            "Both go on: each writes the n it read, plus 1.",
            do=RACE.end,
            point=Point(IL, RACE.ref, "queue", "finished: two bump_racy_until → 1"),
            then=_lost_text,
            check=_lost_ok,
        ),
        Step(
            "Its finished calls show it: each ran as long as the hold, both at the same time, not one after the other.",
            point=Point(IL, RACE.ref, "queue", "finished: two bump_racy_until → 1"),
            then="the second call started before the first ended: they interleaved at the await",
            check=_overlapped,
        ),
    ],
    "Explore: invoke bump_racy with ×2 in the invoke dialog (i) and watch it lose an update again.",
    commands="Explore: call Interleave/tour-race bump_racy --times 2 --concurrent, then storage "
    "Interleave/tour-race: two calls, one more in n, an update lost again.",
)


# ================================================================ the input gate
GATE, GATE_KEY = "tour-gate", "tour-gate-key"  # the object held, and the one whose storage lets it go on


def _gate_start(run: Run) -> None:
    run.call(IL, GATE, "reset")
    run.facade.storage_delete(IL, GATE_KEY, GO)
    run.seen["gated"] = [run.facade.call_async(IL, GATE, "bump_blocked_until", [GATE_KEY]) for _ in range(2)]

    def held() -> bool:
        row = run.facade.instance(IL, GATE)
        return bool(row.get("gate_held")) and row.get("queued") == 1

    run.seen["held"] = run.wait_for(held, 10.0)
    run.seen["answered"] = sum(f.done() for f in run.seen["gated"])


def _gate_let_go(run: Run) -> None:
    run.facade.storage_put(IL, GATE_KEY, GO, True)  # another object's storage: no call gets into the held one


def _gate_end(run: Run) -> None:
    run.seen["results"] = run.gather(run.seen.pop("gated", []))
    run.seen["n"] = run.call(IL, GATE, "peek")
    calls = [c for c in run.facade.history(IL, GATE, 10) if c["method"] == "bump_blocked_until"][-2:]
    run.seen["queued"] = calls[-1].get("queue_time") if len(calls) == 2 else None


INPUT_GATE = Lesson(
    "input-gate",
    "The input gate: block_concurrency_while",
    "Storage calls never let another call in; an await does. ctx.block_concurrency_while(fn) keeps the input "
    "gate shut until fn is done, awaits included.",
    ("Interleave/tour-gate",),
    [
        Step(
            "The same two bumps, but bump_blocked_until does its read-await-write inside "
            "block_concurrency_while. Its await lasts until the tour lets it go on, and meanwhile its queue "
            "shows ⊘ input gate held and the second call waiting (…), not running: the gate keeps it out.",
            do=_gate_start,
            point=Point(IL, GATE, "queue", "⊘ input gate held; the second bump_blocked_until waiting"),
            then=lambda r: (
                f"input gate held (⊘): the first call is at its await, the second waits outside; "
                f"{r.seen['answered']} of 2 answered. → lets the first go on"
            ),
            check=lambda r: _fail(
                r.seen["held"] and r.seen["answered"] == 0,
                f"gate held {r.seen['held']}, {r.seen['answered']} answered",
            ),
            release=_gate_let_go,
            dwell=3.0,
        ),
        Step(
            "The first call writes and ends; the gate opens and the second runs: it reads the n the first wrote.",
            do=_gate_end,
            point=Point(IL, GATE, "queue", "finished: the second bump_blocked_until queued as long as the hold"),
            then=lambda r: (
                f"results {sorted(r.seen['results'])}, n = {r.seen['n']}: nothing lost; the second call "
                f"waited {r.seen['queued'] or 0:.1f} s for the gate"
            ),
            check=lambda r: _fail(
                sorted(r.seen["results"]) == [1, 2] and r.seen["n"] == 2 and (r.seen["queued"] or 0) > 0,
                f"results {r.seen['results']}, n {r.seen['n']}, queued {r.seen['queued']}",
            ),
        ),
    ],
    "Explore: Interleave/tour-gate, then Methods (3): compare bump_racy and bump_blocked.",
    commands="Explore: call Interleave/tour-gate bump_blocked --times 2 --concurrent loses nothing; "
    "classes Interleave says what bump_racy and bump_blocked do.",
)


# ================================================================ the output gate and group commit


def _hold_commits(run: Run) -> None:
    run.facade.storage_put(C, "tour-gate", "n", 0)  # a fresh start, at disk speed
    run.seen["delay"] = _hold_the_commit(run)


def _burst(run: Run) -> None:
    log = run.seen["log"] = EventLog(run.facade, C, "tour-gate")
    run.ends.append(log.close)
    run.seen["burst"] = [run.facade.call_async(C, "tour-gate", "increment") for _ in range(10)]
    log.wait_for(lambda evs: sum(e["type"] == "call.held" for e in evs) >= 10)
    run.seen["held"] = sum(e["type"] == "call.held" for e in log.events)
    run.seen["answered"] = sum(f.done() for f in run.seen["burst"])


def _released(run: Run) -> None:
    log = run.seen["log"]
    run.seen["results"] = run.gather(run.seen.pop("burst", []))
    log.wait_for(lambda evs: sum(e["type"] == "call.finished" and e.get("method") == "increment" for e in evs) >= 10)
    run.seen["released"] = log.released_by_commit("increment")


def _released_text(r: Run) -> str:
    groups = r.seen.get("released", [])
    parts = ", ".join(f"{n} result{'s' if n != 1 else ''} released by commit {i}" for i, n in enumerate(groups, 1))
    return f"{parts}: each fsync made a whole group durable at once, and only then did the callers hear back"


def _group_commit_ok(r: Run) -> str | None:
    groups = r.seen.get("released", [])
    return _fail(
        sum(groups) == 10 and len(groups) < 10 and sorted(r.seen["results"]) == list(range(1, 11)),
        f"released {groups}, results {r.seen['results']}",
    )


OUTPUT_GATE = Lesson(
    "output-gate",
    "The output gate and group commit",
    "A result is not sent until the writes made before it are durable. Writes of many calls go to disk in one "
    "commit (one fsync).",
    ("Counter/tour-gate",),
    [
        Step(
            "A commit takes about a millisecond: too fast to see. For this lesson the engine's commits wait for "
            "you: each waits before its fsync until you press → (commit_delay).",
            do=_hold_commits,
            then=lambda r: (
                f"commits now wait up to {r.seen['delay']:g} s, or until →"
                if isinstance(r.seen["delay"], float)
                else f"commits cannot be held here: {r.seen['delay']}"
            ),
            check=lambda r: _fail(r.seen["delay"] == HOLD, f"commit_delay answered {r.seen['delay']}"),
            dwell=2.0,
        ),
        Step(
            "10 increments at once. Each writes n and returns at once, but the output gate holds its result "
            "(⧗, 'held' in its queue; the engine's commits pending) until the write is on disk.",
            do=_burst,
            point=Point(C, "tour-gate", "queue", "⧗ held results: no caller has its answer yet"),
            then=lambda r: (
                f"{r.seen['held']} results held (⧗); {r.seen['answered']} of 10 callers have an "
                "answer: the writes are in memory, not on disk. → commits them"
            ),
            check=lambda r: _fail(
                r.seen["held"] == 10 and r.seen["answered"] == 0,
                f"{r.seen['held']} held, {r.seen['answered']} answered",
            ),
            release=_commit_now,
            dwell=AUTO_HOLD,
        ),
        Step(
            "The commit: one fsync, then the gate lets the results go.",
            do=_released,
            point=Point(C, "tour-gate", "queue", "✓ all at once"),
            then=_released_text,
            check=_group_commit_ok,
            dwell=3.0,
        ),
    ],
    "Explore: dotui --commit-delay 1 keeps commits slow, to watch ⧗ on any object.",
    commands="Explore: dotui repl --commit-delay 1 keeps commits slow: each call then answers about a second "
    "late, the time its write takes to be on disk.",
)


# ================================================================ hibernation
def _three_calls(run: Run) -> None:
    run.facade.storage_put(C, "tour-sleepy", "n", 0)
    run.facade.hibernate(C, "tour-sleepy")
    for _ in range(3):
        run.seen["n"] = run.call(C, "tour-sleepy", "increment")
    run.seen["since"] = run.call(C, "tour-sleepy", "since_wake")


def _fall_asleep(run: Run) -> None:
    idle = float(run.facade.info().get("idle_timeout") or 10.0)
    run.seen["idle"] = idle
    row: dict = {}

    def asleep() -> bool:
        row.update(run.facade.instance(C, "tour-sleepy"))
        return row["state"] == "hibernated"

    def left(_: float) -> str:  # from the object's own last activity, as the engine's idle timer counts
        return f"hibernates in {max(0.0, (row.get('last_active') or time.time()) + idle - time.time()):.0f} s…"

    if idle > 15.0 or not run.countdown(left, asleep, idle + 5.0):
        run.seen["forced"] = run.facade.hibernate(C, "tour-sleepy")  # a long --idle: do what the timer would
    run.seen["state"] = run.facade.instance(C, "tour-sleepy")["state"]


def _wake_again(run: Run) -> None:
    run.seen["n2"] = run.call(C, "tour-sleepy", "increment")
    run.seen["since2"] = run.call(C, "tour-sleepy", "since_wake")


HIBERNATION = Lesson(
    "hibernation",
    "Hibernation: memory goes, storage stays",
    "An idle object is dropped from memory. Its storage and alarm stay; the next call runs the constructor again.",
    ("Counter/tour-sleepy",),
    [
        Step(
            "Three increments. Counter keeps n in storage, and calls_since_wake as a plain attribute.",
            do=_three_calls,
            point=Point(C, "tour-sleepy", "storage", "the key n"),
            then=lambda r: f"n = {r.seen['n']} (storage); calls since wake = {r.seen['since']} (memory)",
            check=lambda r: _fail(r.seen["n"] == 3 and r.seen["since"] == 3, f"saw {r.seen}"),
        ),
        Step(
            "Now nobody calls it. When it has been idle for the idle timeout, the engine hibernates it: "
            "its state turns hibernated (○).",
            do=_fall_asleep,
            point=Point(C, "tour-sleepy", "queue", "the state on its row"),
            then=lambda r: (
                "hibernated after " + f"{r.seen['idle']:g} s idle"
                if "forced" not in r.seen
                else f"hibernated (the idle timeout is {r.seen['idle']:g} s; the tour did not wait so long)"
            ),
            check=lambda r: _fail(r.seen["state"] == "hibernated", f"state {r.seen['state']}"),
        ),
        Step(
            "Call it again: it wakes, the constructor runs, calls_since_wake starts from 0; n is read back.",
            do=_wake_again,
            point=Point(C, "tour-sleepy", "storage", "n"),
            then=lambda r: (
                f"n = {r.seen['n2']}: kept. calls since wake = {r.seen['since2']}: the attribute was "
                f"rebuilt by the constructor"
            ),
            check=lambda r: _fail(r.seen["n2"] == 4 and r.seen["since2"] == 1, f"saw {r.seen}"),
        ),
    ],
    "Explore: h hibernates the selected object, w wakes it.",
    commands="Explore: hibernate Counter/tour-sleepy, then ls Counter (○ hibernated) and wake Counter/tour-sleepy.",
)


# ================================================================ alarms
def _days(run: Run) -> None:
    for key in list(run.facade.read_storage(API, "tour-user")["values"]):
        run.facade.storage_delete(API, "tour-user", key)
    old = (_dt.datetime.now(_dt.UTC).date() - _dt.timedelta(days=10)).isoformat()
    run.seen["old"] = old
    run.call(API, "tour-user", "record", "/search", old)
    run.call(API, "tour-user", "record", "/search")
    run.seen["totals"] = run.call(API, "tour-user", "totals")


def _alarm_wakes(run: Run) -> None:
    log = EventLog(run.facade, API, "tour-user")
    try:
        due = run.facade.alarm_set(API, "tour-user", "+3")  # set through the object's queue: it is live now
        run.facade.hibernate(API, "tour-user")
        run.seen["hibernated"] = run.facade.instance(API, "tour-user")["state"]
        run.countdown(
            lambda left: f"the alarm fires in {max(0.0, due - time.time()):.0f} s… (its row: ○ hibernated)",
            lambda: log.seen("alarm.done") or log.seen("alarm.gave_up"),
            20.0,
        )
        run.seen["events"] = [
            e["type"] + (f" {e.get('old')}→{e.get('new')}" if e["type"] == "state" else "")
            for e in log.events
            if e["type"] in ("state", "alarm.fired", "alarm.done")
        ]
        first = next((i for i, e in enumerate(run.seen["events"]) if e == "state live→hibernated"), 0)
        run.seen["events"] = run.seen["events"][first:]
    finally:
        log.close()
    run.seen["totals2"] = run.call(API, "tour-user", "totals")


ALARMS = Lesson(
    "alarms",
    "Alarms: a wake-up call, even from hibernation",
    "Each object has at most one alarm; when it is due the engine calls alarm() on it, waking it if it hibernated.",
    ("ApiUsage/tour-user",),
    [
        Step(
            "ApiUsage counts calls per day. Record one call today and one ten days ago.",
            do=_days,
            point=Point(API, "tour-user", "storage", "keys day/…"),
            then=lambda r: f"totals: {short(r.seen['totals'], 80)}",
            check=lambda r: _fail(len(r.seen["totals"]) == 2, f"totals {r.seen['totals']}"),
        ),
        Step(
            "Set its alarm for 3 s from now, and hibernate it. The engine says when the alarm fires.",
            do=_alarm_wakes,
            point=Point(API, "tour-user", "storage", "the alarm line"),
            then=lambda r: "fired: " + ", ".join(r.seen["events"]),
            check=lambda r: _fail(
                r.seen["hibernated"] == "hibernated"
                and "alarm.fired" in r.seen["events"]
                and "state hibernated→waking" in r.seen["events"],
                f"events {r.seen['events']}",
            ),
        ),
        Step(
            "alarm() dropped the days older than the 7-day retention.",
            point=Point(API, "tour-user", "storage", "one day/… key left"),
            then=lambda r: f"totals now: {short(r.seen['totals2'], 80)}",
            check=lambda r: _fail(
                r.seen["old"] not in r.seen["totals2"] and len(r.seen["totals2"]) == 1, f"totals {r.seen['totals2']}"
            ),
        ),
    ],
    "Explore: a sets or deletes the alarm of the selected object.",
    commands="Explore: alarm ApiUsage/tour-user set +10 sets its alarm ten seconds from now, alarm ApiUsage/tour-user delete deletes it.",
)


# ================================================================ WebSockets and hibernation
ROOM = "tour-sockets"


def _messages(sock: Any, until: Callable[[dict], bool], limit: float = 5.0) -> list[dict]:
    """What ``sock`` received (decoded; the room sends JSON) up to the first message ``until`` accepts, or for
    ``limit`` seconds when none comes; O(messages)."""
    import json

    out: list[dict] = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        for m in sock.receive(0.05):
            try:
                out.append(json.loads(m) if isinstance(m, str) else {"bytes": len(m)})
            except ValueError:
                out.append({"text": m})
            if until(out[-1]):
                return out
    return out


def _is(kind: str) -> Callable[[dict], bool]:
    return lambda m: m.get("type") == kind


def _close_if_open(sock: Any) -> None:
    if sock.closed is None:
        sock.close(1000, "the lesson ended")


def _connect(run: Run) -> None:
    run.facade.hibernate(CHAT, ROOM)  # a fresh start: whatever was open before, its room asleep
    socks = run.seen["socks"] = {u: run.facade.open_websocket(CHAT, ROOM, f"?user={u}") for u in ("ann", "bob")}
    for sock in socks.values():
        run.ends.append(functools.partial(_close_if_open, sock))
    run.seen["welcome"] = _messages(socks["ann"], _is("welcome"))
    _messages(socks["bob"], _is("welcome"))
    run.seen["open"] = _open_sockets(run)


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def _open_sockets(run: Run) -> int:
    hexid = run.facade.resolve(CHAT, ROOM)["id"]
    return next((n for ns, hx, n in run.facade.websocket_counts(CHAT) if hx == hexid), 0)


def _room_sleeps(run: Run) -> None:
    run.seen["hibernated"] = run.facade.hibernate(CHAT, ROOM)
    run.seen["state"] = run.facade.instance(CHAT, ROOM)["state"]
    run.seen["open2"] = _open_sockets(run)
    run.seen["closed"] = [u for u, s in run.seen["socks"].items() if s.closed is not None]


def _ping(run: Run) -> None:
    ann = run.seen["socks"]["ann"]
    ann.send("ping")
    run.seen["pong"] = [m for m in _messages(ann, lambda m: m.get("text") == "pong") if m.get("text") == "pong"]
    run.seen["state_ping"] = run.facade.instance(CHAT, ROOM)["state"]


def _hello_bob(m: dict) -> bool:
    return m.get("type") == "message" and m.get("text") == "hello bob"


def _wakes(run: Run) -> None:
    ann, bob = run.seen["socks"]["ann"], run.seen["socks"]["bob"]
    log = EventLog(run.facade, CHAT, ROOM)
    run.ends.append(log.close)
    ann.send("hello bob")
    run.seen["bob_got"] = [m for m in _messages(bob, _hello_bob) if _hello_bob(m)]
    log.wait_for(lambda evs: any(e["type"] == "state" and e.get("new") == "live" for e in evs), 5.0)
    states = [f"{e.get('old')}→{e.get('new')}" for e in log.events if e["type"] == "state"]
    # up to the first "live": with a short idle timeout the room may hibernate again before the learner reads it
    run.seen["woke"] = states[: states.index("waking→live") + 1] if "waking→live" in states else states


WEBSOCKETS = Lesson(
    "websockets",
    "WebSockets: connected while the object hibernates",
    "An object accepts WebSockets (ctx.accept_websocket); the engine holds them, so the object can hibernate "
    "with its clients still connected, and a message wakes it.",
    (f"ChatRoom/{ROOM}",),
    [
        Step(
            f"Two members, ann and bob, open a WebSocket to ChatRoom/{ROOM}: its fetch() accepts each, with an "
            "attachment naming the user (it survives hibernation; an attribute would not).",
            do=_connect,
            point=Point(CHAT, ROOM, "sockets", "two sockets, ann and bob"),
            then=lambda r: (
                f"{r.seen['open']} sockets open; ann was welcomed: "
                f"{short([m.get('type') for m in r.seen['welcome']], 60)}"
            ),
            check=lambda r: _fail(
                r.seen["open"] == 2 and any(m.get("type") == "welcome" for m in r.seen["welcome"]),
                f"{r.seen['open']} open, ann got {r.seen['welcome']}",
            ),
        ),
        Step(
            "Nobody speaks, and the room hibernates (the tour does it now, as the idle timer would): its Python "
            "object is gone. The two sockets stay open: the engine holds them, not the object.",
            do=_room_sleeps,
            point=Point(CHAT, ROOM, "sockets", "○ hibernated, sockets still open"),
            then=lambda r: f"ChatRoom/{ROOM} is {r.seen['state']}, with {r.seen['open2']} sockets open and none closed",
            check=lambda r: _fail(
                r.seen["state"] == "hibernated" and r.seen["open2"] == 2 and not r.seen["closed"],
                f"state {r.seen['state']}, {r.seen['open2']} open, closed {r.seen['closed']}",
            ),
        ),
        Step(
            "ann sends 'ping'. The room set an auto response (ping → pong): the engine answers it without "
            "waking the room.",
            do=_ping,
            point=Point(CHAT, ROOM, "sockets", "still ○ hibernated"),
            then=lambda r: (
                f"ann got {'pong' if r.seen['pong'] else 'nothing'}; the room is still {r.seen['state_ping']}"
            ),
            check=lambda r: _fail(
                bool(r.seen["pong"]) and r.seen["state_ping"] == "hibernated",
                f"pong {r.seen['pong']}, state {r.seen['state_ping']}",
            ),
        ),
        Step(
            "ann sends 'hello bob'. A message is a call: it wakes the room (its constructor runs), "
            "websocket_message posts it, and every socket gets it.",
            do=_wakes,
            point=Point(CHAT, ROOM, "events", "hibernated → waking → live, then the message"),
            then=lambda r: (
                f"the room woke ({', '.join(r.seen['woke'])}); bob received 'hello bob' "
                f"{_times(len(r.seen['bob_got']))}, through his socket that never closed"
            ),
            check=lambda r: _fail(
                len(r.seen["bob_got"]) == 1 and r.seen["woke"][-2:] == ["hibernated→waking", "waking→live"],
                f"bob got {r.seen['bob_got']}, states {r.seen['woke']}",
            ),
        ),
    ],
    "Explore: dotui serve, then python examples/chat_client.py lobby ann in two terminals.",
    commands="Explore: ws ChatRoom/tour-lobby /?user=ann --send hello says hello to the room as ann and shows what it answers; "
    "dotui serve, then python examples/chat_client.py lobby ann in two terminals.",
)


# ================================================================ code reload
RELOAD_FILE = "tour_reload.py"  # the lesson writes it into the objects folder, and removes it when it ends
TR = "TourReload"
RELOAD_SOURCE = '''"""Written by the tour's reload lesson (dotui tour --lesson reload); the lesson removes this file when it ends."""

from dotui import DurableObject


class TourReload(DurableObject):
    """Says hello; the tour edits this file and reloads it."""

    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        self.calls_since_wake = 0  # memory: a reload starts it over

    async def hello(self) -> str:
        """Count the call in storage and answer."""
        self.calls_since_wake += 1
        n = self.ctx.storage.get("n", 0) + 1
        self.ctx.storage.put("n", n)
        return {answer}
'''
V1 = 'f"hello #{n}"'
V2 = 'f"HELLO #{n}, from the new code ({self.calls_since_wake} call since it woke)"'


def _reload_path(run: Run) -> str:
    import os

    if run.facade.remote:
        raise RuntimeError(
            "the reload lesson edits a file of the objects folder, so it runs beside a local engine "
            "(dotui, not dotui --connect)"
        )
    if not os.path.isdir(run.facade.objects_dir):
        raise RuntimeError(
            f"the reload lesson writes a class of its own into an objects folder; this workspace is a "
            f"wrangler project ({run.facade.objects_dir}), whose classes are the ones it binds: run "
            "the lesson on the bundled examples with dotui tour --lesson reload"
        )
    return os.path.join(run.facade.objects_dir, RELOAD_FILE)


def _write_version(run: Run, answer: str) -> None:
    path = _reload_path(run)
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(RELOAD_SOURCE.format(answer=answer))
    except OSError as exc:
        raise RuntimeError(
            f"cannot write {path} ({exc.strerror}): the reload lesson needs an objects folder it may "
            "write to; dotui init DIR makes one, then run dotui in DIR"
        ) from None
    if not run.seen.get("cleanup"):
        run.seen["cleanup"] = True
        run.ends.append(lambda: _remove(run, path))


def _remove(run: Run, path: str) -> None:
    import os

    try:
        os.remove(path)
    except FileNotFoundError:
        pass
    run.facade.reload()


def _version_one(run: Run) -> None:
    _write_version(run, V1)
    run.seen["errors1"] = run.facade.reload()
    run.facade.storage_put(TR, "tour-reload", "n", 0)
    run.seen["before"] = [run.call(TR, "tour-reload", "hello") for _ in range(2)]


def _version_two(run: Run) -> None:
    # Live, as the step says, however long the learner read step 1: past the idle timeout it had hibernated,
    # the reload had nothing to drain, and the claim failed (seen in the TUI at the default 10 s).
    run.facade.wake(TR, "tour-reload")
    log = EventLog(run.facade, TR, "tour-reload", also=("reload",))
    run.ends.append(log.close)
    _write_version(run, V2)
    run.seen["errors"] = run.facade.reload()
    log.wait_for(lambda evs: any(e["type"] == "state" and e.get("new") == "hibernated" for e in evs))
    run.seen["events"] = [
        e["type"] if e["type"] != "state" else f"{e.get('old')}→{e.get('new')}"
        for e in log.events
        if e["type"] in ("reload", "state")
    ]
    run.seen["after"] = run.call(TR, "tour-reload", "hello")


RELOAD = Lesson(
    "reload",
    "Code reload: new code, same storage",
    "Reloading the objects folder (r, or saving a file) lets live objects finish, then restarts them on the "
    "new code. Storage stays; in-memory state starts over.",
    ("TourReload/tour-reload",),
    [
        Step(
            f"The tour writes {RELOAD_FILE} into the objects folder: a class TourReload whose hello() counts "
            f"its calls in storage and answers return {V1}. A reload loads it; two calls.",
            do=_version_one,
            point=Point(TR, "tour-reload", "methods", "hello"),
            then=lambda r: f"hello() → {r.seen['before'][0]!r}, then {r.seen['before'][1]!r}",
            check=lambda r: _fail(
                r.seen["errors1"] == [] and r.seen["before"] == ["hello #1", "hello #2"],
                f"reload errors {r.seen['errors1']}, answers {r.seen['before']}",
            ),
        ),
        Step(
            f"Now the tour edits the file, as you would: hello() answers return {V2}. Then it reloads (r, or the "
            "save itself in the TUI): the live object (the tour wakes it first if it fell asleep while you read) "
            "finishes its calls, hibernates, and the next call wakes it on the new code.",
            do=_version_two,
            point=Point(TR, "tour-reload", "events", "live → draining → hibernated → waking"),
            then=lambda r: (
                f"events: {', '.join(r.seen['events'])}; hello() → {r.seen['after']!r}: the new code "
                "answers, n went on from storage (3), the attribute started over (1)"
            ),
            check=lambda r: _fail(
                r.seen["errors"] == []
                and "reload" in r.seen["events"]
                and "draining→hibernated" in r.seen["events"]
                and r.seen["after"] == "HELLO #3, from the new code (1 call since it woke)",
                f"saw {r.seen}",
            ),
            dwell=4.0,
        ),
    ],
    lambda facade: f"The tour removes {RELOAD_FILE} as the lesson ends. {_explore_reload(facade)}",
    commands=lambda facade: (
        f"The tour removes {RELOAD_FILE} as the lesson ends. {_explore_reload(facade, commands=True)}"
    ),
    edits_objects=True,
)


def _explore_reload(facade: EngineFacade, commands: bool = False) -> str:
    """Which file the learner can edit to see a reload: one their workspace really has (O(classes)); in the
    TUI's words, or (``commands``) in the command language's."""
    import os

    from ..examples import OBJECTS as BUNDLED

    then = "save, then reload" if commands else "save: the TUI reloads by itself (the REPL: reload)"
    if facade.remote:
        how = "save, then reload" if commands else "save; r here reloads it (the REPL: reload)"
        return f"Explore: edit a class's file in the folder dotui serve runs on and {how}."
    files = [ns["file"] for ns in facade.namespaces() if ns["name"] != TR and ns.get("file")]
    files.sort(key=lambda f: (os.path.basename(f) != "counter.py", f))
    bundled = os.path.abspath(BUNDLED)
    if not files or all(os.path.abspath(f).startswith(bundled + os.sep) for f in files):
        return (
            f"Explore: these classes are dotui's bundled examples ({bundled}), part of dotui itself. "
            "For code of your own: dotui init myproject, then dotui in myproject; edit objects/counter.py there "
            f"and {then}."
        )
    path = os.path.abspath(files[0])
    shown = os.path.relpath(path) if path.startswith(os.path.abspath(os.curdir) + os.sep) else path
    return f"Explore: edit {shown} and {then}."


# ================================================================ two objects are not one transaction
def _open_accounts(run: Run) -> None:
    run.facade.storage_put(ACC, "tour-alice", "balance", 100)
    run.facade.storage_put(ACC, "tour-bob", "balance", 0)
    run.call(ACC, "tour-bob", "freeze", True)


def _failed_transfer(run: Run) -> None:
    run.seen["answer"] = run.at_once([(ACC, "tour-alice", "transfer", ["tour-bob", 30])])[0]
    run.seen["alice"] = run.call(ACC, "tour-alice", "balance")
    run.seen["bob"] = run.call(ACC, "tour-bob", "balance")


def _good_transfer(run: Run) -> None:
    run.call(ACC, "tour-bob", "freeze", False)
    run.seen["answer2"] = run.call(ACC, "tour-alice", "transfer", "tour-bob", 30)
    run.seen["bob2"] = run.call(ACC, "tour-bob", "balance")


def _answer(value: Any) -> str:
    return f"{type(value).__name__}: {value}" if isinstance(value, BaseException) else repr(value)


TRANSACTIONS = Lesson(
    "transactions",
    "Two objects are not one transaction",
    "Each object is its own unit of consistency. A change across two objects is two steps; if the second fails, "
    "your code must undo the first (a compensating action).",
    ("Account/tour-alice", "Account/tour-bob"),
    [
        Step(
            "Alice has 100, Bob 0, and Bob's account is frozen: it refuses deposits.",
            do=_open_accounts,
            point=Point(ACC, "tour-bob", "storage", "frozen: true"),
        ),
        Step(
            "Alice transfers 30 to Bob: she debits herself (her own transaction), then awaits Bob.deposit — "
            "a call to another object, in a transaction of its own.",
            do=_failed_transfer,
            point=Point(ACC, "tour-alice", "queue", "finished: transfer ✗ PermissionError"),
            then=lambda r: (
                f"the transfer raised {_answer(r.seen['answer'])}; Alice has {r.seen['alice']}, "
                f"Bob {r.seen['bob']}: the debit was undone by Alice's own compensating code, not rolled "
                f"back by any transaction"
            ),
            check=lambda r: _fail(
                isinstance(r.seen["answer"], BaseException) and r.seen["alice"] == 100 and r.seen["bob"] == 0,
                f"saw {r.seen}",
            ),
        ),
        Step(
            "Unfreeze Bob and transfer again.",
            do=_good_transfer,
            point=Point(ACC, "tour-bob", "storage", "balance"),
            then=lambda r: f"Alice has {r.seen['answer2']}, Bob {r.seen['bob2']}",
            check=lambda r: _fail(r.seen["answer2"] == 70 and r.seen["bob2"] == 30, f"saw {r.seen}"),
        ),
    ],
    "Explore: history Account/tour-alice in the command bar shows the failed and the good transfer.",
    commands="Explore: history Account/tour-alice shows the failed and the good transfer.",
)


# ================================================================ the welcome's first minute
WELCOME_RACE = Race("welcome-race")

FIRST_AHA = Lesson(
    "first-aha",
    "Two callers, one object, one lost update",
    "What the welcome screen runs by itself, before any reading: the interleaving lesson in three beats.",
    ("Interleave/welcome-race",),
    [
        Step(
            "Two callers call Interleave/welcome-race.bump_racy_until() at the same moment. It reads n, "
            "awaits, then writes n + 1.",
            do=WELCOME_RACE.start,
            then=lambda r: (
                f"⏸ ⏸ both calls read n = {r.seen['n0'] or 0} and wait at their await: "
                "at the first call's await, the second one got in"
            ),
            check=WELCOME_RACE.held_ok,
            release=WELCOME_RACE.let_go,
            dwell=4.0,
        ),
        Step(
            "They go on: each writes the n it read, plus 1.",
            do=WELCOME_RACE.end,
            then=_lost_text,
            check=_lost_ok,
            dwell=4.0,
        ),
    ],
    "One object runs one call at a time, but an await lets the next one in. t: the tour shows why, step by "
    "step, and lesson 4 the fix.",
)


LESSONS: list[Lesson] = [
    ADDRESSING,
    ONE_INSTANCE,
    INTERLEAVING,
    INPUT_GATE,
    OUTPUT_GATE,
    HIBERNATION,
    ALARMS,
    WEBSOCKETS,
    RELOAD,
    TRANSACTIONS,
    PITR,
]


def lesson_named(key: str) -> Lesson:
    """The lesson ``key`` (or its number, from 1); ValueError naming the lessons otherwise."""
    if key.isdigit() and 1 <= int(key) <= len(LESSONS):
        return LESSONS[int(key) - 1]
    for lesson in LESSONS:
        if lesson.key == key:
            return lesson
    raise ValueError(f"no lesson {key!r}; the lessons: {', '.join(f'{i} {x.key}' for i, x in enumerate(LESSONS, 1))}")
