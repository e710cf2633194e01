"""The bundled SQLite-backed TodoList (dotui/examples/objects/todo_list.py) does what its docstring teaches."""

from __future__ import annotations

import shutil

import pytest

from dotui.examples import OBJECTS as BUNDLED
from dotui.ops import LocalEngine


@pytest.fixture
def facade(tmp_path):
    objects = tmp_path / "objects"
    objects.mkdir()
    shutil.copy(f"{BUNDLED}/todo_list.py", objects / "todo_list.py")
    fe = LocalEngine(str(objects), str(tmp_path / "data"), idle_timeout=600).start()
    yield fe
    fe.close()


def call(facade, method, *args):
    return facade.call("TodoList", "home", method, list(args))


def test_queries_group_and_filter(facade):
    assert call(facade, "add", "milk", "shopping") == {"id": 1, "title": "milk", "project": "shopping", "done": 0}
    call(facade, "add_many", ["bread", "eggs"], "shopping")
    call(facade, "add", "report", "work")
    assert call(facade, "finish", 2) is True and call(facade, "finish", 2) is False
    assert [t["title"] for t in call(facade, "open", "shopping")] == ["milk", "eggs"]
    assert call(facade, "projects") == [
        {"project": "shopping", "open": 2, "done": 1},
        {"project": "work", "open": 1, "done": 0},
    ]
    assert call(facade, "clear_done") == 1
    assert call(facade, "size") > 0


def test_add_many_is_all_or_nothing(facade):
    call(facade, "add", "first")
    with pytest.raises(Exception, match="CHECK constraint failed"):
        call(facade, "add_many", ["fine", "", "also fine"])  # the empty title fails the CHECK
    assert [t["title"] for t in call(facade, "open")] == ["first"]


def test_the_index_answers_open(facade):
    plan = " ".join(call(facade, "plan", "inbox"))
    assert "todo_by_project" in plan and "SCAN todo" not in plan


def test_its_state_survives_a_restart(facade, tmp_path):
    call(facade, "add_many", [f"t{i}" for i in range(50)])
    facade.hibernate("TodoList", "home")
    assert len(call(facade, "open")) == 50
