"""channels.client.websocket_url builds the URL phoenix.js connects to (Socket.endPointURL)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given, strategies as st

from channels.client import websocket_url

keys = st.text(min_size=1, max_size=10).filter(lambda k: k != "vsn")


@given(params=st.dictionaries(keys, st.text(max_size=20), max_size=5),
       scheme=st.sampled_from(["ws", "wss", "http", "https"]), path=st.sampled_from(["/socket", "/socket/", "/a/b"]))
def test_params_and_vsn_round_trip_through_the_query(params: dict[str, str], scheme: str, path: str) -> None:
    url = websocket_url(f"{scheme}://example.com:4000{path}", params, "2.0.0")
    parts = urlsplit(url)
    assert parts.scheme == {"http": "ws", "https": "wss"}.get(scheme, scheme)
    assert parts.path == path.rstrip("/") + "/websocket"
    assert parse_qsl(parts.query, keep_blank_values=True) == [*params.items(), ("vsn", "2.0.0")]


def test_a_websocket_path_and_an_existing_query_are_kept() -> None:
    assert websocket_url("ws://h/socket/websocket?token=1", None, None) == "ws://h/socket/websocket?token=1"
    assert websocket_url("ws://h/socket?a=1", {"b": 2}) == "ws://h/socket/websocket?a=1&b=2&vsn=2.0.0"


def test_other_schemes_are_refused() -> None:
    with pytest.raises(ValueError, match="ws://"):
        websocket_url("ftp://h/socket")
