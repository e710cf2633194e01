"""The committer on its own: group commit, per-object outcomes, one path inline and threaded.

The objects here are stand-ins offering exactly what the committer uses of an instance
(its storage's uncommitted changes, its output gate, reset, emit), and a host that
records what the committer hands to the durable state.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest

from dotui import CommitFailedError
from dotui.engine.durability.commitlog import CommitLog
from dotui.engine.durability.committer import Committer
from dotui.engine.durability.logformat import DELETED
from dotui.engine.durability.logscan import read_records
from dotui.engine.events import EventBus
from dotui.engine.ids import IdFactory
from dotui.engine.object.gates import OutputGate
from dotui.engine.object.storage import Changes


class Host:
    def __init__(self):
        self.committed_deltas: dict[str, dict] = {}
        self.full_sizes: list[int] = []

    def committed(self, inst, delta, keys, nbytes, now):
        if inst.id.name == "refused":
            raise RuntimeError("the durable state has a bug")
        self.committed_deltas[inst.id.name] = dict(delta.puts)

    def log_full(self, size):
        self.full_sizes.append(size)


COUNTER_IDS = IdFactory("Counter")


class Writer:
    """An object with uncommitted writes (key -> JSON text, or None for a delete)."""

    def __init__(self, name: str, puts: dict[str, str | None]):
        self.ns = SimpleNamespace(name="Counter")
        # a real id of the namespace: the log's reader refuses a record whose id is not one
        self.id = SimpleNamespace(hex=COUNTER_IDS.from_name(name).hex, name=name)
        self.label = name
        self.output_gate = OutputGate()
        self.reset_with: BaseException | None = None
        self._puts = puts
        self.storage = SimpleNamespace(take_changes=self._take, key_count=len(puts), byte_size=10)

    def _take(self):
        puts, self._puts = self._puts, {}
        return Changes(False, puts, False, None) if puts else None

    def reset(self, error):
        self.reset_with = error

    def emit(self, *args, **fields):
        pass

    def answer(self):
        """What a call that wrote would wait for before its result is released."""
        return self.output_gate.waiter(True)


class ThreadedLog(CommitLog):
    inline_sync = False


@pytest.fixture
def host():
    return Host()


@pytest.fixture(params=[CommitLog, ThreadedLog], ids=["inline", "threaded"])
async def committer(request, tmp_path, host):
    log = request.param(str(tmp_path / "log"))
    log.open_new_segment()
    io = ThreadPoolExecutor(1)
    c = Committer(log, host, EventBus(), asyncio.get_running_loop(), io)
    c.start()
    yield c
    await c.close()
    io.shutdown()
    log.close()


def records(c: Committer) -> list:
    return [objs for _, recs, _, _ in c.log.records() for _, objs in recs]


async def test_objects_written_in_one_loop_iteration_share_one_record(committer, host):
    writers = [Writer(n, {"n": str(i)}) for i, n in enumerate("abc")]
    answers = []
    for w in writers:
        answers.append(w.answer())
        committer.schedule(w)
    await asyncio.gather(*answers)
    assert committer.stats()["commits"] == 1
    [record] = records(committer)
    assert [o.name for o in record] == ["a", "b", "c"]
    assert host.committed_deltas == {"a": {"n": 0}, "b": {"n": 1}, "c": {"n": 2}}


async def test_deletes_reach_the_durable_state_marked_as_such(committer, host):
    w = Writer("a", {"gone": None, "kept": '{"x":[1,2]}'})
    answer = w.answer()
    committer.schedule(w)
    await answer
    assert host.committed_deltas["a"] == {"gone": DELETED, "kept": {"x": [1, 2]}}


async def test_an_object_whose_changes_cannot_be_encoded_fails_alone(committer, host):
    bad = Writer("bad", {"k": '"\ud800"'})  # a lone surrogate: no UTF-8 for it
    good = Writer("good", {"n": "1"})
    answers = [bad.answer(), good.answer()]
    committer.schedule(bad)
    committer.schedule(good)
    # (Bounded: the failure this guards against is every answer of the group hanging.)
    results = await asyncio.wait_for(asyncio.gather(*answers, return_exceptions=True), 60)
    assert isinstance(results[0], CommitFailedError) and "surrogate" in str(results[0])
    assert isinstance(bad.reset_with, CommitFailedError)
    assert results[1] is None and good.reset_with is None
    assert list(host.committed_deltas) == ["good"]
    assert [[o.name for o in r] for r in records(committer)] == [["good"]]


async def test_a_failed_append_fails_every_object_of_its_batch_and_is_reported(committer, disk_faults, caplog):
    writers = [Writer(n, {"n": "1"}) for n in "ab"]
    answers = [w.answer() for w in writers]
    disk_faults.inject("fsync", errno.EIO)
    with caplog.at_level(logging.ERROR, logger="dotui"):
        for w in writers:
            committer.schedule(w)
        results = await asyncio.gather(*answers, return_exceptions=True)
    assert all(isinstance(r, CommitFailedError) and "Input/output error" in str(r) for r in results)
    assert all(isinstance(w.reset_with, CommitFailedError) for w in writers)
    assert committer.stats()["commit_failures"] == 1
    assert "a commit of 2 object(s) failed" in caplog.text
    # The failed record's bytes were zeroed: the next record is the first one read back.
    later = Writer("later", {"n": "2"})
    answer = later.answer()
    committer.schedule(later)
    await answer
    assert [[o.name for o in r] for r in records(committer)] == [["later"]]


async def test_flush_returns_once_everything_scheduled_is_settled(committer):
    w = Writer("a", {"n": "1"})
    answer = w.answer()
    committer.schedule(w)
    assert committer.pending == 1
    await committer.flush()
    assert answer.done() and committer.pending == 0
    await committer.flush()  # nothing pending: returns at once


async def test_read_records_sees_each_commit_in_order(committer):
    for i in range(3):
        w = Writer("a", {"n": str(i)})
        answer = w.answer()
        committer.schedule(w)
        await answer
    assert [r[0].delta.puts for r in records(committer)] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert read_records(committer.log.segments()[0])[2] == 0  # no torn bytes


async def test_the_host_hears_when_the_log_segment_is_full(committer, host):
    committer.full_at = 300  # bytes: about two records of this size
    sizes = []
    for i in range(3):
        w = Writer("a", {"n": str(i)})
        answer = w.answer()
        committer.schedule(w)
        await answer
        sizes.append(committer.log.size)
    assert sizes[0] < 300 <= sizes[-1]
    assert host.full_sizes == [s for s in sizes if s >= 300]


async def test_a_durable_state_that_raises_fails_that_object_loudly_and_hangs_nothing(committer, host, caplog):
    refused, good = Writer("refused", {"n": "1"}), Writer("good", {"n": "1"})
    answers = [refused.answer(), good.answer()]
    with caplog.at_level(logging.ERROR, logger="dotui"):
        committer.schedule(refused)
        committer.schedule(good)
        results = await asyncio.wait_for(asyncio.gather(*answers, return_exceptions=True), 60)
    assert isinstance(results[0], CommitFailedError) and "has a bug" in str(results[0])
    assert results[1] is None and list(host.committed_deltas) == ["good"]
    assert committer.stats()["committer_errors"] == 1
    assert "the durable state refused a commit of Counter refused" in caplog.text
