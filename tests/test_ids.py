import pytest

from dotui import InvalidIdError, ObjectId


async def test_id_from_name_is_deterministic_64_hex_and_keeps_the_name(engine):
    ns = engine.env.Counter
    a1, a2 = ns.id_from_name("alice"), ns.id_from_name("alice")
    assert a1 == a2 and hash(a1) == hash(a2)
    assert len(str(a1)) == 64 and str(a1) == a1.hex and a1.hex == a1.hex.lower()
    int(a1.hex, 16)
    assert a1.name == "alice"
    assert ns.id_from_name("bob") != a1


def test_ids_from_names_stay_the_same_past_the_names_remembered():
    from dotui.engine.ids import IdFactory

    remembering, fresh = IdFactory("Counter"), IdFactory("Counter")
    names = [f"user-{i}" for i in range(IdFactory.NAMES_KEPT + 10)]
    first = [remembering.from_name(n).hex for n in names]
    again = [remembering.from_name(n) for n in names]
    assert [a.hex for a in again] == first == [fresh.from_name(n).hex for n in names]
    assert all(a.name == n for a, n in zip(again, names, strict=False))
    assert remembering.from_name("x") is not remembering.from_name("x")  # a new id each time
    assert IdFactory("Other").from_name("user-1") != remembering.from_name("user-1")


async def test_a_name_with_a_lone_surrogate_is_refused_saying_why_and_nothing_is_made(engine):
    with pytest.raises(ValueError, match="lone surrogate .* at character 2"):
        engine.env.Counter.get_by_name("ab\udc80")
    assert engine.instances() == []
    assert await engine.env.Counter.get_by_name("ab\ufffd").increment() == 1  # the character it stood for is fine


async def test_new_unique_ids_differ_and_have_no_name(engine):
    ns = engine.env.Counter
    ids = {ns.new_unique_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(i.name is None for i in ids)


async def test_id_from_string_round_trips_and_rejects_malformed_and_foreign_ids(engine, tmp_path):
    ns = engine.env.Counter
    oid = ns.id_from_name("alice")
    assert ns.id_from_string(oid.hex) == oid
    for bad in ["xyz", "", oid.hex[:-1], oid.hex.upper(), oid.hex + "0"]:
        with pytest.raises(InvalidIdError) as exc:
            ns.id_from_string(bad)
        assert str(exc.value) == "Invalid Durable Object ID: must be 64 hex digits"
    forged = "0" * 64
    with pytest.raises(InvalidIdError) as exc:
        ns.id_from_string(forged)
    assert str(exc.value) == "Durable Object ID is not valid for this namespace."


async def test_an_id_of_another_namespace_is_rejected(tmp_path):
    from dotui import Engine
    from tests.conftest import write_objects

    objs = write_objects(
        tmp_path / "o",
        a="""
        from dotui import DurableObject
        class A(DurableObject):
            def hi(self): return 1
        class B(DurableObject):
            def hi(self): return 2
    """,
    )
    async with Engine(objects=str(objs), data=str(tmp_path / "d")) as e:
        a_id = e.env.A.id_from_name("x")
        with pytest.raises(InvalidIdError, match="not valid for this namespace"):
            e.env.B.id_from_string(a_id.hex)
        with pytest.raises(InvalidIdError, match="not valid for this namespace"):
            e.env.B.get(a_id)
        assert e.env.A.id_from_name("x") != e.env.B.id_from_name("x")


async def test_making_ids_and_stubs_creates_nothing(engine, data_dir):
    ns = engine.env.Counter
    ns.get(ns.id_from_name("ghost"))
    ns.get_by_name("ghost2")
    assert engine.instances() == []
    assert isinstance(ns.new_unique_id(), ObjectId)
