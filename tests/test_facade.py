"""The engine on its own thread, as the front ends drive it."""

import gc
import threading
import time

import pytest

from dotui import EngineClosedError
from dotui.ops import LocalEngine
from tests.conftest import write_objects


def test_calls_from_other_threads_and_a_clear_error_after_close(tmp_path):
    objs = write_objects(
        tmp_path / "o",
        c="""
        from dotui import DurableObject
        class C(DurableObject):
            def add(self, n):
                total = self.ctx.storage.get("t", 0) + n
                self.ctx.storage.put("t", total)
                return total
    """,
    )
    facade = LocalEngine(str(objs), str(tmp_path / "d")).start()
    threads = [
        threading.Thread(target=lambda: [facade.call("C", "x", "add", [1]) for _ in range(50)]) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert facade.call("C", "x", "add", [0]) == 200
    facade.close()
    started = time.monotonic()
    with pytest.raises(EngineClosedError, match="closed"):
        facade.call("C", "x", "add", [1])
    with pytest.raises(EngineClosedError):
        facade.instances()
    assert time.monotonic() - started < 5  # an error, not a hang (a generous bound, not a timing test)


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_an_operation_sent_before_start_is_refused_and_nothing_is_left_unrun(tmp_path):
    objs = write_objects(
        tmp_path / "o",
        c="""
        from dotui import DurableObject
        class C(DurableObject):
            def add(self, n):
                return n
    """,
    )
    facade = LocalEngine(str(objs), str(tmp_path / "d"))
    with pytest.raises(EngineClosedError, match="not started"):
        facade.call("C", "x", "add", [1])
    gc.collect()  # a coroutine left unclosed warns as it is collected: the mark above makes that a failure
    with facade:  # and it still starts afterwards
        assert facade.call("C", "x", "add", [2]) == 2


def test_a_method_that_blocks_the_engine_thread_does_not_block_the_caller_thread_forever(tmp_path):
    objs = write_objects(
        tmp_path / "o",
        s="""
        import time
        from dotui import DurableObject
        class S(DurableObject):
            def block(self, seconds):
                time.sleep(seconds)
                return "done"
    """,
    )
    with LocalEngine(str(objs), str(tmp_path / "d")) as facade:
        pending = facade.call_async("S", "x", "block", [0.5])
        with pytest.raises(TimeoutError):
            facade.call("S", "y", "block", [0], timeout=0.1)  # the engine's thread is busy: the caller may give up
        assert pending.result(10) == "done"
