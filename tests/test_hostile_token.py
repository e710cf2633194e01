"""The token file is read back from the data folder: what --connect presents is only ever a token."""

from __future__ import annotations

import pytest

from dotui.server.auth import TOKEN_FILE, TokenNotFound, find_token, new_token

pytestmark = pytest.mark.hostile


@pytest.mark.parametrize(
    "text",
    [
        b"abc\r\nX-Injected: 1",  # a second header through the Authorization line
        b"\xff\xfe not UTF-8",
        b"x" * 10_000_000,  # no token is 10 MB
        b"tok en",
        b"\x1b[2J",
    ],
)
def test_a_token_file_holding_no_token_is_refused_naming_it(tmp_path, text, monkeypatch):
    monkeypatch.delenv("DOTUI_TOKEN", raising=False)
    (tmp_path / TOKEN_FILE).write_bytes(text)
    with pytest.raises(TokenNotFound) as err:
        find_token(data=str(tmp_path))
    assert str(tmp_path / TOKEN_FILE) in str(err.value) and "--token" in str(err.value)
    assert len(str(err.value)) < 1_000  # the file's contents are not echoed


def test_the_token_the_gateway_writes_is_read_back(tmp_path, monkeypatch):
    monkeypatch.delenv("DOTUI_TOKEN", raising=False)
    token = new_token()
    (tmp_path / TOKEN_FILE).write_text(token + "\n")
    assert find_token(data=str(tmp_path)) == token
