"""Server-frame encoding checked against wsproto's client-side frame decoder (RFC 6455)."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st
from wsproto.frame_protocol import CloseReason, FrameProtocol, Opcode as WSOpcode

from channels.protocol import (
    V2_JSON_SERIALIZER,
    Broadcast,
    Opcode,
    encode_ws_close,
    encode_ws_frame,
    frame_to_ws_bytes,
)

# Payload lengths around every boundary of the three length encodings.
BOUNDARY_LENGTHS = [0, 1, 124, 125, 126, 127, 65535, 65536, 70_000]


def _client_decode(data: bytes) -> list[tuple[WSOpcode, object, bool]]:
    protocol = FrameProtocol(client=True, extensions=[])
    protocol.receive_bytes(data)
    return [(f.opcode, f.payload, f.message_finished) for f in protocol.received_frames()]


@pytest.mark.parametrize("length", BOUNDARY_LENGTHS)
def test_binary_frame_of_every_length_class_decodes_in_wsproto(length: int) -> None:
    payload = bytes(i % 251 for i in range(length))
    assert _client_decode(encode_ws_frame(Opcode.BINARY, payload)) == [
        (WSOpcode.BINARY, bytearray(payload), True)
    ]


@pytest.mark.parametrize(
    ("length", "header_size"), [(125, 2), (126, 4), (65535, 4), (65536, 10)]
)
def test_frame_header_uses_7_16_or_64_bit_length(length: int, header_size: int) -> None:
    data = encode_ws_frame(Opcode.TEXT, b"a" * length)
    assert len(data) == header_size + length
    assert data[0] == 0x81  # FIN + text
    assert data[1] & 0x80 == 0  # server frames are not masked


@given(
    length=st.one_of(st.sampled_from(BOUNDARY_LENGTHS), st.integers(0, 70_000)),
    fill=st.characters(codec="utf-8", exclude_categories=["Cs"]),
    opcode=st.sampled_from([Opcode.TEXT, Opcode.BINARY]),
)
def test_encoded_frames_decode_to_the_same_message_in_wsproto(
    length: int, fill: str, opcode: Opcode
) -> None:
    text = (fill * length)[:length]
    payload = text.encode()
    decoded = _client_decode(encode_ws_frame(opcode, payload))
    expected: object = text if opcode is Opcode.TEXT else bytearray(payload)
    assert decoded == [(WSOpcode(opcode), expected, True)]


@given(st.lists(st.binary(max_size=300), min_size=1, max_size=5))
def test_concatenated_frames_decode_as_separate_messages(payloads: list[bytes]) -> None:
    data = b"".join(encode_ws_frame(Opcode.BINARY, p) for p in payloads)
    assert _client_decode(data) == [(WSOpcode.BINARY, bytearray(p), True) for p in payloads]


@pytest.mark.parametrize(("code", "reason"), [(1000, ""), (1001, "going away"), (1012, "x"), (4000, "app")])
def test_close_frame_carries_code_and_reason(code: int, reason: str) -> None:
    [(opcode, payload, _)] = _client_decode(encode_ws_close(code, reason))
    assert opcode is WSOpcode.CLOSE
    assert payload == (CloseReason(code) if code < 3000 else code, reason)


def test_close_reason_is_cut_to_fit_a_control_frame_at_a_character_boundary() -> None:
    data = encode_ws_close(1000, "é" * 100)
    assert len(data) <= 2 + 125
    [(_, payload, _)] = _client_decode(data)
    assert payload == (CloseReason.NORMAL_CLOSURE, "é" * 61)


@pytest.mark.parametrize("code", [999, 1004, 1005, 1006, 1015, 1016, 2999, 5000])
def test_close_codes_that_may_not_be_sent_are_refused(code: int) -> None:
    with pytest.raises(ValueError, match=f"close code {code}"):
        encode_ws_close(code)


def test_control_frames_longer_than_125_bytes_are_refused() -> None:
    encode_ws_frame(Opcode.PING, b"x" * 125)
    with pytest.raises(ValueError, match="control frame payload is 126 bytes"):
        encode_ws_frame(Opcode.PING, b"x" * 126)


def test_invalid_opcode_is_refused() -> None:
    with pytest.raises(ValueError, match="invalid WebSocket opcode"):
        encode_ws_frame(16, b"")


def test_frame_to_ws_bytes_encodes_a_serializer_frame_once_for_fan_out() -> None:
    frame = V2_JSON_SERIALIZER.fastlane(Broadcast("room:lobby", "new_msg", {"body": "hi"}))
    data = frame_to_ws_bytes(frame)
    assert _client_decode(data) == [(WSOpcode.TEXT, frame.data.decode(), True)]
    binary = V2_JSON_SERIALIZER.fastlane(Broadcast("t", "e", b"\x00\xff"))
    assert _client_decode(frame_to_ws_bytes(binary)) == [
        (WSOpcode.BINARY, bytearray(binary.data), True)
    ]


def test_ws_frame_accepts_bytearray_and_memoryview_payloads() -> None:
    assert encode_ws_frame(Opcode.BINARY, bytearray(b"ab")) == b"\x82\x02ab"
    assert encode_ws_frame(Opcode.BINARY, memoryview(b"ab")) == b"\x82\x02ab"
