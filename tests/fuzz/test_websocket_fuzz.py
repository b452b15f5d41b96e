"""Fuzzing a running endpoint after the upgrade: WebSocket frames (opcodes, flags, lengths,
fragments, control frames, masks, bytes) and Phoenix messages (well-formed frames whose text is
anything from garbage to almost-valid messages, deep nesting included).

The server carries on (a heartbeat sent afterwards is answered) or closes with a documented
code; no ERROR is logged; the endpoint's tree is untouched; a fresh client is served.

More examples: ``pytest tests/fuzz --fuzz-examples 20000`` (or ``FUZZ_EXAMPLES=20000``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, strategies as st

from ._support import (
    FuzzServer,
    assert_documented_close,
    client_frame,
    close_codes,
    fuzz_settings,
    phoenix,
    read_until_eof,
    replies,
    send_quietly,
    ws_open,
)

OPCODES = st.sampled_from([0, 1, 2, 8, 9, 10, 3, 7, 11, 15])


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(st.binary(max_size=64))  # not even a frame
    payload = draw(st.one_of(st.binary(max_size=200),
                             st.text(max_size=60).map(str.encode),
                             st.sampled_from([b"\x03\xe8", b"\x03\xe8bye", b"\x00", b"\x0b\xb8",
                                              b"\x03\xe8\xff\xfe", b"\xff\xff"])))
    opcode = draw(OPCODES)
    fin = draw(st.booleans()) if opcode < 8 else draw(st.sampled_from([True, True, True, False]))
    rsv = draw(st.sampled_from([0, 0, 0, 0, 1, 2, 4, 7]))
    mask = draw(st.sampled_from([b"\x00\x00\x00\x00", b"\x01\x02\x03\x04"]) | st.binary(min_size=4, max_size=4))
    frame = client_frame(payload, opcode, fin=fin, mask=mask, rsv=rsv)
    if kind == 1:  # unmasked
        frame = bytes((frame[0], frame[1] & 0x7F)) + frame[2:]
    elif kind == 2:  # a length that lies (extended lengths included)
        length = draw(st.sampled_from([126, 127]))
        extra = draw(st.binary(min_size=2 if length == 126 else 8, max_size=2 if length == 126 else 8))
        frame = bytes((frame[0], 0x80 | length)) + extra + mask + payload
    return frame


@fuzz_settings(600)
@given(sequence=st.lists(frames(), min_size=1, max_size=6))
def test_any_frames_get_a_documented_close_or_the_connection_carries_on(fuzz_server: FuzzServer,
                                                                       sequence: list[bytes]) -> None:
    fuzz_server.mark()
    sock, rest = ws_open(fuzz_server.port)
    with sock:
        heartbeat = client_frame(phoenix(None, "hb", "phoenix", "heartbeat", {}))
        send_quietly(sock, b"".join(sequence) + heartbeat)
        answer = rest + read_until_eof(sock)
    assert_documented_close(answer, sequence)
    fuzz_server.assert_healthy(sequence)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
TOPICS = st.sampled_from(["fuzz:a", "fuzz:b", "phoenix", "nope", "fuzz:" + "x" * 300, ""]) | st.text(max_size=12)
EVENTS = st.sampled_from(["phx_join", "phx_leave", "heartbeat", "echo", "broadcast", "other", "phx_reply",
                          "phx_close", "phx_error"]) | st.text(max_size=12)
REFS = st.none() | st.sampled_from(["1", "2", "x"]) | st.integers() | st.text(max_size=5)


def _deep(depth: int, leaf: Any) -> Any:
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 6))
    if kind == 0:
        return draw(st.binary(max_size=100))
    if kind == 1:
        return json.dumps(draw(JSON)).encode()
    if kind == 2:  # nesting around the decoder's limit
        depth = draw(st.sampled_from([100, 254, 255, 256, 511, 512, 1023, 1024, 5000]))
        payload = _deep(depth, draw(JSON))
        try:
            return phoenix("1", "9", "fuzz:a", "echo", payload)
        except RecursionError:
            return b'["1","9","fuzz:a","echo",' + b"[" * depth + b"]" * depth + b"]"
    message: list[Any] = [draw(REFS), draw(REFS), draw(TOPICS), draw(EVENTS), draw(JSON)]
    if kind == 3:
        message = message[:draw(st.integers(0, 6))] + [draw(JSON)] * draw(st.integers(0, 2))
    return json.dumps(message).encode()


@fuzz_settings(600)
@given(sequence=st.lists(messages(), min_size=1, max_size=5), joined=st.booleans())
def test_any_phoenix_message_is_answered_or_refused_and_the_socket_carries_on(
        fuzz_server: FuzzServer, sequence: list[bytes], joined: bool) -> None:
    fuzz_server.mark()
    sock, rest = ws_open(fuzz_server.port)
    with sock:
        out = [client_frame(phoenix("1", "1", "fuzz:a", "phx_join", {}))] if joined else []
        out += [client_frame(m, 1) for m in sequence]
        out.append(client_frame(phoenix(None, "hb", "phoenix", "heartbeat", {})))
        out.append(client_frame((1000).to_bytes(2, "big"), 8))
        send_quietly(sock, b"".join(out))
        answer = rest + read_until_eof(sock)
    assert_documented_close(answer, sequence)
    codes = close_codes(answer)
    if codes == [1000]:  # not closed for what it sent: every message was taken, then the heartbeat
        assert any(isinstance(r, list) and len(r) == 5 and r[1] == "hb" for r in replies(answer)), \
            f"no heartbeat reply after {sequence!r}"
    fuzz_server.assert_healthy(sequence)


@pytest.mark.parametrize("bad", [b"", b"x", b"[]", b'{"topic": 1}'])
def test_an_invalid_message_closes_1011_before_the_frames_parsed_with_it(fuzz_server: FuzzServer, bad: bytes) -> None:
    # Found by the fuzzer above: an invalid message followed, in the same read, by a
    # heartbeat and the client's close frame was answered with the close echo (1000) and no
    # heartbeat reply, as if the connection had ended normally. The server closes at the
    # invalid message (1011), acts on nothing after it, and its close frame goes first.
    fuzz_server.mark()
    sock, rest = ws_open(fuzz_server.port)
    with sock:
        send_quietly(sock, client_frame(bad) + client_frame(phoenix(None, "hb", "phoenix", "heartbeat", {}))
                     + client_frame((1000).to_bytes(2, "big"), 8))
        answer = rest + read_until_eof(sock)
    assert close_codes(answer) == [1011]
    assert replies(answer) == []
    fuzz_server.assert_healthy([bad])
