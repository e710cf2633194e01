"""The error codec's client side (dotui/ops/codec.py, ``rebuild``): whatever shape of error a gateway
answers, the caller gets an exception that says something: a name, or a message (docs/trust.md)."""

from __future__ import annotations

import pytest

from dotui.engine.errors import RemoteError
from dotui.ops.codec import rebuild


@pytest.mark.parametrize(
    "err",
    [
        {},
        {"type": ""},
        {"type": "", "message": ""},
        {"type": "1x"},
        {"type": "no such name", "message": None},
        {"type": None, "message": ""},
        {"type": "Error"},
    ],
)
def test_an_error_with_no_usable_name_and_no_message_still_says_what_came(err):
    exc = rebuild(err)
    assert isinstance(exc, RemoteError)
    assert str(exc), f"{type(exc).__name__} with no message, from {err!r}"
    assert "gateway" in str(exc)


def test_a_named_error_keeps_its_name_and_its_own_message_even_an_empty_one():
    exc = rebuild({"type": "ValueError", "message": ""})
    assert type(exc).__name__ == "ValueError" and isinstance(exc, ValueError)
    assert str(exc) == ""
    assert str(rebuild({"type": "KeyError", "message": "'k'"})) == "'k'"
